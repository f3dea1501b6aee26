"""``nbalife registry``: versioned model sets, promotion and one-command rollback."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from nbalife.cli.options import parse_version_option
from nbalife.cli.render import jsonable, key_values, show, table
from nbalife.cli.runtime import Runtime, runtime
from nbalife.errors import CheckFailed
from nbalife.versions import ChangeKind

if TYPE_CHECKING:
    from rich.table import Table

    from nbalife.registry import VersionRow

NAME = "registry"
app = typer.Typer(help="Versioned model sets: register, promote, roll back, verify, gc.", no_args_is_help=True)


def _registry(rt: Runtime, *, carry_pending: bool = True):  # noqa: ANN202
    from nbalife.services.registry import open_registry

    return open_registry(rt.home, rt.engine, rt.settings, now=rt.now(), carry_pending=carry_pending)


def _switch_table(switch) -> object:  # noqa: ANN001
    return key_values(f"{switch.action}: {switch.from_version or '-'} -> {switch.to_version}", {
        "from": switch.from_version, "to": switch.to_version, "at": switch.at, "reason": switch.reason,
        "forced": switch.forced, "gate failures": "; ".join(switch.gate_failures) or "-",
        "lost": "; ".join(switch.lost) or "-",
    })


def _figure(row, name: str) -> object:  # noqa: ANN001
    """A figure of ``list``: "—" for a version recorded as not scored."""
    if "not_scored" in row.metrics:
        return "—"
    return row.metrics.get(name)


def _gate_tables(gate) -> list:  # noqa: ANN001
    figures = table(
        f"Promotion gate: {'passed' if gate.passed else 'refused'} ({gate.basis}; {gate.note})",
        ["figure", gate.candidate, f"production {gate.production or '-'}", "rule"],
        [("MAE", gate.candidate_mae, gate.production_mae,
          f"<= {gate.max_mae} and <= production - {gate.min_improvement}"),
         ("coverage", gate.candidate_coverage, gate.production_coverage, f">= {gate.min_coverage}"),
         ("games", gate.games, None, f"{gate.first_date or '-'} .. {gate.last_date or '-'}")],
    )
    return [figures] + ([table("Refused because", ["reason"], [(r,) for r in gate.reasons])] if gate.reasons else [])


@app.command()
def register(
    ctx: typer.Context,
    from_dir: Annotated[Path, typer.Option("--from", help="Folder holding the artifact files.")],
    version: Annotated[Optional[str], typer.Option(
        callback=parse_version_option, help="Semver; default: the next one by --kind from --base.")] = None,
    kind: Annotated[ChangeKind, typer.Option(help="Kind of change: patch, minor or major step.")] = ChangeKind.MANUAL,
    base: Annotated[Optional[str], typer.Option(
        callback=parse_version_option, help="Version this one derives from (default: production).")] = None,
    description: Annotated[str, typer.Option(help="What changed.")] = "",
    metrics: Annotated[Optional[Path], typer.Option(help="JSON file of metrics (mae, coverage, ...).")] = None,
) -> None:
    """Register the files in a folder as a new immutable version."""
    from nbalife.services.registry import register as run

    rt = runtime(ctx)
    info = run(_registry(rt), from_dir, kind=kind.value, base=base, version=version, description=description,
               metrics_file=metrics)
    show(rt.json, info, key_values(f"Registered {info.version}", {
        "version": info.version, "parent": info.parent, "kind": info.kind.value, "path": info.path,
        "files": ", ".join(f.name for f in info.files), "metrics": info.metrics}))


@app.command("list")
def list_cmd(ctx: typer.Context) -> None:
    """Every version, newest first, with its status and key metrics."""
    from nbalife.services.registry import list_versions

    rt = runtime(ctx)
    rows = list_versions(_registry(rt), rt.engine)
    show(rt.json, rows, versions_table(rows))


def versions_table(rows: list[VersionRow]) -> Table:
    """The table of ``registry list`` (``demo`` ends with it too)."""
    return table(
        "Model registry", ["version", "created", "status", "kind", "mae", "coverage", "description"],
        [(r.version, r.created_at, r.status.value, r.kind.value if r.kind else "-", _figure(r, "mae"),
          _figure(r, "coverage"), r.error or r.description) for r in rows],
    )


def _show_info(rt: Runtime, info) -> None:  # noqa: ANN001
    show(rt.json, info,
         key_values(f"Version {info.version}", {
             "version": info.version, "state": info.tombstone or info.state, "created": info.created_at,
             "by": info.created_by, "parent": info.parent, "kind": info.kind.value,
             "description": info.description, "path": "-" if info.tombstone else info.path,
             "scored on": info.metrics.get("scored_on") or info.metrics.get("not_scored") or "-",
             "training window": info.training_window, "nbalife": info.nbalife_version}),
         table("Metrics", ["metric", "value"], sorted(info.metrics.items())),
         table("Files", ["file", "bytes", "sha256"], [(f.name, f.size, f.sha256) for f in info.files]))


@app.command("show")
def show_cmd(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(callback=parse_version_option, help="Version, e.g. 1.2.0.")],
) -> None:
    """Metadata, metrics and files of one version."""
    rt = runtime(ctx)
    _show_info(rt, _registry(rt).show(version))


@app.command()
def current(ctx: typer.Context) -> None:
    """The production version (exit 2 if there is none)."""
    rt = runtime(ctx)
    _show_info(rt, _registry(rt).load_production().info)


@app.command()
def diff(
    ctx: typer.Context,
    a: Annotated[str, typer.Argument(callback=parse_version_option, help="First version.")],
    b: Annotated[str, typer.Argument(callback=parse_version_option, help="Second version.")],
) -> None:
    """Metrics, parameters and files of two versions side by side."""
    rt = runtime(ctx)
    result = _registry(rt).diff(a, b)
    show(rt.json, result, table(f"{a} vs {b}", ["section", "name", a, b, "changed"],
                                [(r.section, r.name, _cell(r.a), _cell(r.b), "*" if r.changed else "")
                                 for r in result.rows]))


def _cell(value: object) -> object:
    """A file entry as its short checksum and size; anything else as is."""
    if isinstance(value, dict) and "sha256" in value:
        return f"{value['sha256'][:12]} ({value.get('size')} B)"
    return value


@app.command()
def promote(
    ctx: typer.Context,
    version: Annotated[Optional[str], typer.Argument(
        callback=parse_version_option, help="Version to put into production.")] = None,
    force: Annotated[bool, typer.Option(
        help="Promote even if it is not a fast-forward of production, the gate refuses or a live-game "
             "freeze is on (never if it does not load); prints what is lost.")] = False,
    reason: Annotated[str, typer.Option(help="Why (recorded in the history).")] = "",
    pending: Annotated[bool, typer.Option(
        "--pending", help="Carry out the promotions the freeze deferred, re-gated (when no freeze is on).")] = False,
) -> None:
    """Load the version, check that it descends from production (fast-forward), gate it against
    production on recent games, then switch in one transaction (exit 1 naming what it would drop
    or the failing figures; exit 2 when it does not load; exit 3 when the freeze defers it)."""
    from nbalife.errors import BadInput, Deferred

    rt = runtime(ctx)
    if pending:
        if version is not None:
            raise BadInput("give a VERSION or --pending, not both")
        _carry_out(rt)
        return
    if version is None:
        raise BadInput("missing VERSION (or --pending)")
    from nbalife.services.registry import promote as run

    result = run(_registry(rt), rt.engine, rt.settings, version, now=rt.now(), force=force, reason=reason,
                 override_freeze=force)
    if result.pending:
        show(rt.json, result, key_values("Promotion deferred", {
            "version": version, "pending": f"#{result.pending.id}", "freeze": result.frozen,
            "carried out": "by the first registry command after the freeze, re-gated "
                           "(`nbalife registry promote --pending`)"}))
        raise Deferred(result.deferred)
    tables = _gate_tables(result.gate) + ([_switch_table(result.switch)] if result.switch else [])
    switch = jsonable(result.switch) if result.switch else {}
    show(rt.json, {**switch, "gate": result.gate, "failure": result.failure}, *tables)
    if result.switch and result.switch.lost:
        typer.echo(f"forced: production loses what {'; '.join(result.switch.lost)}", err=True)
    if result.failure:
        raise CheckFailed(result.failure)


def _carry_out(rt: Runtime) -> None:
    from nbalife.errors import Deferred
    from nbalife.services.abtest import carry_out_deferred
    from nbalife.services.registry import active_freeze

    registry = _registry(rt, carry_pending=False)
    frozen = active_freeze(rt.settings, rt.now())
    waiting = registry.pending()
    if frozen and waiting:
        raise Deferred(f"the live-game freeze {frozen!r} is on: {len(waiting)} pending promotion(s) wait")
    done = carry_out_deferred(rt.engine, registry, rt.settings, now=rt.now())
    show(rt.json, done, table("Pending promotions carried out", ["#", "version", "promoted", "outcome"],
                              [(d.pending.id, d.pending.version, d.promoted, d.outcome) for d in done]))
    if any(not d.promoted for d in done):
        raise CheckFailed("; ".join(f"pending #{d.pending.id} ({d.pending.version}): {d.outcome}"
                                    for d in done if not d.promoted))


@app.command("pending")
def pending_cmd(ctx: typer.Context) -> None:
    """Promotions and A/B advances the live-game freeze deferred that still wait."""
    rt = runtime(ctx)
    waiting = _registry(rt).pending()
    show(rt.json, waiting, table("Pending", ["#", "what", "version", "asked", "by", "not before", "force", "reason"],
                                 [(p.id, p.action, p.version, p.asked_at, f"{p.who}@{p.host}", p.not_before, p.force,
                                   p.reason) for p in waiting]))


@app.command()
def cancel(
    ctx: typer.Context,
    number: Annotated[int, typer.Argument(help="The pending entry's number (see `registry pending`).")],
) -> None:
    """Drop a pending promotion or A/B advance."""
    from nbalife.services.registry import cancel as run

    rt = runtime(ctx)
    entry = run(_registry(rt, carry_pending=False), number, now=rt.now())
    show(rt.json, entry, key_values(f"Cancelled pending #{entry.id}", {"version": entry.version,
                                                                       "asked": entry.asked_at}))


@app.command()
def rollback(
    ctx: typer.Context,
    version: Annotated[Optional[str], typer.Argument(
        callback=parse_version_option, help="Target version; default: the previous production.")] = None,
    reason: Annotated[str, typer.Option(help="Why (recorded in the history).")] = "",
) -> None:
    """Switch production back to a version that served before (default: the one before), in one
    transaction; allowed during the freeze. Exit 2 for a version that never served."""
    from nbalife.services.registry import rollback as run

    rt = runtime(ctx)
    switch = run(_registry(rt), version, reason=reason, now=rt.now())
    show(rt.json, switch, _switch_table(switch))


@app.command()
def verify(
    ctx: typer.Context,
    version: Annotated[Optional[str], typer.Argument(
        callback=parse_version_option, help="Version; default: production.")] = None,
    all_versions: Annotated[bool, typer.Option("--all", help="Verify every version.")] = False,
) -> None:
    """Hash the store's artifacts; exit 1 naming every mismatched or missing one. This home's
    local copy is rebuilt from the store when it does not verify."""
    from nbalife.services.registry import verify as run

    rt = runtime(ctx)
    result = run(_registry(rt), version, all_versions=all_versions)
    show(rt.json, result, table("Verification", ["version", "ok", "problems", "local copy"], [
        (r.version, "ok" if r.ok else "FAILED", "; ".join(f"{p.name}: {p.describe()}" for p in r.problems
                                                          if p.name != ".") or "-",
         "re-materialised" if r.rematerialised else "-") for r in result.reports]))
    if result.failure:
        raise CheckFailed(result.failure)


@app.command()
def gc(
    ctx: typer.Context,
    keep: Annotated[Optional[int], typer.Option(min=1, help="Versions to keep (default: registry.keep_versions).")] = None,
) -> None:
    """Delete old versions, leaving tombstones; never production, the previous one, an A/B
    version, an ancestor whose layer production serves, or one with recent predictions."""
    from nbalife.services.registry import collect_garbage

    rt = runtime(ctx)
    result = collect_garbage(_registry(rt), rt.engine, rt.settings, keep, now=rt.now())
    show(rt.json, result, key_values("Registry gc", {
        "deleted": ", ".join(result.deleted) or "-",
        "kept": ", ".join(f"{v} ({why})" for v, why in result.protected.items()) or "-",
        "cleaned": ", ".join(result.cleaned) or "-"}))


@app.command()
def history(ctx: typer.Context) -> None:
    """Which version served when: every promotion and rollback, from the registry's switches."""
    from nbalife.services.registry import serving_history

    rt = runtime(ctx)
    periods = serving_history(rt.engine)
    show(rt.json, periods, table(
        "Production history", ["version", "since", "until", "by", "from", "reason", "user", "host"],
        [(p.version + (f" ({p.tombstone})" if p.tombstone else ""), p.since, p.until or "now", p.action,
          p.from_version, p.reason, p.user, p.host) for p in periods]))
