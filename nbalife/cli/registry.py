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


def _registry(rt: Runtime):  # noqa: ANN202
    from nbalife.services.registry import open_registry

    return open_registry(rt.home, rt.engine, rt.settings)


def _switch_table(switch) -> object:  # noqa: ANN001
    return key_values(f"{switch.action}: {switch.from_version or '-'} -> {switch.to_version}", {
        "from": switch.from_version, "to": switch.to_version, "at": switch.at, "reason": switch.reason,
        "forced": switch.forced, "gate failures": "; ".join(switch.gate_failures) or "-",
    })


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
        [(r.version, r.created_at, r.status.value, r.kind.value if r.kind else "-", r.metrics.get("mae"),
          r.metrics.get("coverage"), r.error or r.description) for r in rows],
    )


def _show_info(rt: Runtime, info) -> None:  # noqa: ANN001
    show(rt.json, info,
         key_values(f"Version {info.version}", {
             "version": info.version, "created": info.created_at, "parent": info.parent,
             "kind": info.kind.value, "description": info.description, "path": info.path,
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
    version: Annotated[str, typer.Argument(callback=parse_version_option, help="Version to put into production.")],
    force: Annotated[bool, typer.Option(
        help="Promote even if the gate refuses or a live-game freeze is on (never if it does not load).")] = False,
    reason: Annotated[str, typer.Option(help="Why (recorded in the history).")] = "",
) -> None:
    """Load the version, gate it against production on recent games, then switch atomically
    (exit 1 naming the failing figures when the gate refuses; exit 2 when it does not load)."""
    from nbalife.services.registry import promote as run

    rt = runtime(ctx)
    result = run(_registry(rt), rt.engine, rt.settings, version, now=rt.now(), force=force, reason=reason,
                 override_freeze=force)
    if result.frozen:
        show(rt.json, result, key_values("Promotion waits", {
            "version": version, "freeze": result.frozen, "why": "a live-game freeze window is on (--force overrides)"}))
        return
    tables = _gate_tables(result.gate) + ([_switch_table(result.switch)] if result.switch else [])
    switch = jsonable(result.switch) if result.switch else {}
    show(rt.json, {**switch, "gate": result.gate, "failure": result.failure}, *tables)
    if result.failure:
        raise CheckFailed(result.failure)


@app.command()
def rollback(
    ctx: typer.Context,
    version: Annotated[Optional[str], typer.Argument(
        callback=parse_version_option, help="Target version; default: the previous production.")] = None,
    reason: Annotated[str, typer.Option(help="Why (recorded in the history).")] = "",
) -> None:
    """Switch production back to a version (default: the one before), atomically."""
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
    """Recompute checksums; exit 1 naming every mismatched or missing file."""
    from nbalife.services.registry import verify as run

    rt = runtime(ctx)
    result = run(_registry(rt), version, all_versions=all_versions)
    show(rt.json, result, table("Verification", ["version", "ok", "problems"], [
        (r.version, "ok" if r.ok else "FAILED", "; ".join(f"{p.name}: {p.describe()}" for p in r.problems) or "-")
        for r in result.reports]))
    if result.failure:
        raise CheckFailed(result.failure)


@app.command()
def gc(
    ctx: typer.Context,
    keep: Annotated[Optional[int], typer.Option(min=1, help="Versions to keep (default: registry.keep_versions).")] = None,
) -> None:
    """Delete old versions; never production, the previous one, or one under an active A/B test."""
    from nbalife.services.registry import collect_garbage

    rt = runtime(ctx)
    result = collect_garbage(_registry(rt), rt.engine, rt.settings, keep)
    show(rt.json, result, key_values("Registry gc", {
        "deleted": ", ".join(result.deleted) or "-", "kept": ", ".join(result.kept) or "-",
        "cleaned": ", ".join(result.cleaned) or "-"}))


@app.command()
def history(ctx: typer.Context) -> None:
    """Which version served when: every promotion and rollback from the lifecycle events."""
    from nbalife.services.registry import serving_history

    rt = runtime(ctx)
    periods = serving_history(rt.engine)
    show(rt.json, periods, table(
        "Production history", ["version", "since", "until", "by", "from", "reason", "user", "host"],
        [(p.version, p.since, p.until or "now", p.action, p.from_version, p.reason, p.user, p.host)
         for p in periods]))
