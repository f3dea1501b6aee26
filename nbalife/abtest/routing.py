"""Sticky arm assignment: a game's arm depends only on the test id and the game id.

``sha256(test_id + ':' + game_id)`` read as a number in [0, 1) is compared with B's share, so
every host and process agrees without coordination, a game keeps its arm for the whole test,
and raising the share only moves games from A to B (never back).
"""

from __future__ import annotations

import hashlib

BITS = 53  # a double holds 53 bits exactly, so the quotient stays below 1


def bucket(test_id: str, game_id: str) -> float:
    """A uniform number in [0, 1) fixed by the test id and the game id."""
    digest = hashlib.sha256(f"{test_id}:{game_id}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") >> (64 - BITS)) / (1 << BITS)


def assign_arm(test_id: str, game_id: str, share_b: float) -> str:
    """``'B'`` for a game whose bucket falls below B's share, else ``'A'``."""
    return "B" if bucket(test_id, game_id) < share_b else "A"
