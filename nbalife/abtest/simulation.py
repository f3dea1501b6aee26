"""Simulated A/B outcomes with the error structure of real halftime forecasts.

Most of every forecast error is the game's own noise (``d24 - d18``, about 6 points SD on real
seasons), shared by any model; each arm adds a small noise of its own: the better arm's has SD
``own_sd`` and the worse arm's is sized so that the true MAE improvement of B over A is exactly
``improvement`` (negative: B worse). Errors are normal, so ``MAE = sd * sqrt(2 / pi)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

Z95 = 1.959963984540054


@dataclass(frozen=True)
class SimulatedGames:
    """Per test (rows) and game (columns): both arms' errors, persistence error, B's coverage."""

    abs_a: "np.ndarray"
    abs_b: "np.ndarray"
    persistence: "np.ndarray"
    covered_b: "np.ndarray"


def worse_arm_sd(gap: float, game_sd: float, own_sd: float) -> float:
    """The SD of the worse arm's own noise that makes its MAE exceed the better arm's by ``gap``."""
    total_better = math.sqrt(game_sd**2 + own_sd**2)
    total_worse = total_better + gap / math.sqrt(2 / math.pi)
    return math.sqrt(total_worse**2 - game_sd**2)


def simulate_games(tests: int, games: int, *, improvement: float, game_sd: float, own_sd: float = 1.0,
                   seed: int = 0) -> SimulatedGames:
    """``tests`` independent tests of ``games`` games each; B better by ``improvement`` points."""
    import numpy as np

    rng = np.random.default_rng(seed)
    worse = worse_arm_sd(abs(improvement), game_sd, own_sd)
    sd_a, sd_b = (worse, own_sd) if improvement >= 0 else (own_sd, worse)
    noise = rng.normal(0.0, game_sd, size=(tests, games))
    err_a = noise + rng.normal(0.0, sd_a, size=noise.shape)
    err_b = noise + rng.normal(0.0, sd_b, size=noise.shape)
    half_width_b = Z95 * math.sqrt(game_sd**2 + sd_b**2)
    return SimulatedGames(np.abs(err_a), np.abs(err_b), np.abs(noise), np.abs(err_b) <= half_width_b)
