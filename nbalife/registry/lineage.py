"""Lineage, pure: which layers each kind of version sets, which ancestor's layer production
serves, whether a candidate descends from production (fast-forward) and what it would drop if it
does not, and the stack of production versions replayed from the switches."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from nbalife.registry.records import SwitchRecord, VersionInfo
from nbalife.versions import ChangeKind

LAYERS = ("lstm", "dejavu", "conformal")
SETS: dict[ChangeKind, tuple[str, ...]] = {
    ChangeKind.RECALIBRATION: ("conformal",),
    ChangeKind.DEJAVU_UPDATE: ("dejavu",),
    ChangeKind.LSTM_RETRAIN: LAYERS,  # a retrain fits the whole set again
    ChangeKind.TRAIN: LAYERS,
    ChangeKind.MANUAL: LAYERS,
}
CHANGED = {  # what a version of each kind did, in the words of a refusal
    ChangeKind.RECALIBRATION: "recalibrated the interval",
    ChangeKind.DEJAVU_UPDATE: "updated the Dejavu database",
    ChangeKind.LSTM_RETRAIN: "retrained the LSTM",
    ChangeKind.TRAIN: "trained a new model set",
    ChangeKind.MANUAL: "registered a new model set by hand",
}
REDERIVE = {
    ChangeKind.RECALIBRATION: "conformal check --apply",
    ChangeKind.DEJAVU_UPDATE: "dejavu update",
    ChangeKind.LSTM_RETRAIN: "lstm retrain",
    ChangeKind.TRAIN: "train --register",
    ChangeKind.MANUAL: "registry register --base PRODUCTION",
}


def chain(infos: Mapping[str, VersionInfo], version: str) -> list[VersionInfo]:
    """``version`` and its ancestors, newest first (tombstones included; stops at an unknown parent)."""
    out: list[VersionInfo] = []
    seen: set[str] = set()
    current: str | None = version
    while current is not None and current in infos and current not in seen:
        seen.add(current)
        out.append(infos[current])
        current = infos[current].parent
    return out


def layer_origins(lineage: Sequence[VersionInfo]) -> dict[str, str]:
    """For each layer, the version of ``lineage`` (newest first) whose copy of it the first one serves."""
    origins: dict[str, str] = {}
    for info in lineage:
        for layer in SETS.get(info.kind, LAYERS):
            origins.setdefault(layer, info.version)
        if len(origins) == len(LAYERS):
            break
    return origins


def intervening(infos: Mapping[str, VersionInfo], candidate: str, production: str) -> tuple[str | None, list[VersionInfo]]:
    """(the newest common ancestor, production's lineage newer than it, newest first). An empty
    list with the ancestor equal to production means the candidate descends from production."""
    ancestors = {i.version for i in chain(infos, candidate)}
    between: list[VersionInfo] = []
    for info in chain(infos, production):
        if info.version in ancestors:
            return info.version, between
        between.append(info)
    return None, between


def refusal(candidate: VersionInfo, production: str, base: str | None, between: Sequence[VersionInfo]) -> tuple[str, list[str]]:
    """Why a candidate that does not descend from production is refused, and the layers it would
    drop (in words, one per intervening version, oldest first)."""
    lost = []
    for info in reversed(between):
        who = f"production {info.version}" if info.version == production else info.version
        lost.append(f"{who} {CHANGED.get(info.kind, 'changed the set')}")
    rederive = REDERIVE.get(candidate.kind, "train --register")
    if base is None:
        message = (f"{candidate.version} shares no ancestor with production {production}: re-derive it "
                   f"(`{rederive}`) or `--force`")
    else:
        message = (f"{candidate.version} derives from {base}; {', '.join(lost)} since: re-derive it "
                   f"(`{rederive}`) or `--force`")
    return message, lost


def production_stack(switches: Sequence[SwitchRecord], current: str | None) -> list[str]:
    """The production versions in order (top = ``current``): a promotion pushes, a rollback
    returns to its target's last place (or pushes one that is not on the stack)."""
    stack: list[str] = []
    for switch in switches:
        if switch.action == "rollback":
            _settle(stack, switch.to_version)
        else:
            stack.append(switch.to_version)
    _settle(stack, current)
    return stack


def _settle(stack: list[str], version: str | None) -> None:
    if version is None:
        stack.clear()
    elif version in stack:
        del stack[len(stack) - stack[::-1].index(version):]
    else:
        stack.append(version)


def served(switches: Sequence[SwitchRecord]) -> set[str]:
    """Every version that was production at some point."""
    return {s.to_version for s in switches} | {s.from_version for s in switches if s.from_version}
