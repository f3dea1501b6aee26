"""``nbalife registry``: versioned model sets, promotion and one-command rollback."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from nbalife.cli.render import key_values, show, table
from nbalife.cli.runtime import Runtime, runtime

NAME = "registry"
app = typer.Typer(help="Versioned model sets: register, promote, roll back, verify, gc.", no_args_is_help=True)

KINDS = ("manual", "recalibration", "dejavu_update", "lstm_retrain")


def _registry(rt: Runtime):  # noqa: ANN202
    from nbalife.services.registry import open_registry

    return open_registry(rt.home, rt.engine, rt.settings)


def _switch_table(switch) -> object:  # noqa: ANN001
    return key_values(f"{switch.action}: {switch.from_version or '-'} -> {switch.to_version}", {
        "from": switch.from_version, "to": switch.to_version, "at": switch.at, "reason": switch.reason,
        "forced": switch.forced, "gate failures": "; ".join(switch.gate_failures) or "-",
    })


@app.command()
def register(
    ctx: typer.Context,
    from_dir: Annotated[Path, typer.Option("--from", help="Folder holding the artifact files.")],
    version: Annotated[Optional[str], typer.Option(help="Semver; default: next by --kind.")] = None,
    kind: Annotated[str, typer.Option(help=f"Kind of change: {', '.join(KINDS)}.")] = "manual",
    description: Annotated[str, typer.Option(help="What changed.")] = "",
    metrics: Annotated[Optional[Path], typer.Option(help="JSON file of metrics (mae, coverage, ...).")] = None,
) -> None:
    """Register the files in a folder as a new immutable version."""
    from nbalife.services.registry import read_metrics

    rt = runtime(ctx)
    if kind not in KINDS:
        raise typer.BadParameter(f"{kind!r} is not one of {', '.join(KINDS)}", param_hint="--kind")
    info = _registry(rt).register(from_dir, kind, metrics=read_metrics(metrics), description=description,
                                  version=version)
    show(rt.json, info, key_values(f"Registered {info.version}", {
        "version": info.version, "parent": info.parent, "kind": info.kind.value, "path": info.path,
        "files": ", ".join(f.name for f in info.files), "metrics": info.metrics}))


@app.command("list")
def list_cmd(ctx: typer.Context) -> None:
    """Every version, newest first, with its status and key metrics."""
    from nbalife.services.registry import ab_protected

    rt = runtime(ctx)
    rows = _registry(rt).list_versions(ab_versions=ab_protected(rt.engine))
    show(rt.json, rows, table(
        "Model registry", ["version", "created", "status", "kind", "mae", "coverage", "description"],
        [(r.version, r.created_at, r.status.value, r.kind.value if r.kind else "-", r.metrics.get("mae"),
          r.metrics.get("coverage"), r.error or r.description) for r in rows],
    ))


def _show_info(rt: Runtime, info) -> None:  # noqa: ANN001
    show(rt.json, info,
         key_values(f"Version {info.version}", {
             "version": info.version, "created": info.created_at, "parent": info.parent,
             "kind": info.kind.value, "description": info.description, "path": info.path,
             "training window": info.training_window, "nbalife": info.nbalife_version}),
         table("Metrics", ["metric", "value"], sorted(info.metrics.items())),
         table("Files", ["file", "bytes", "sha256"], [(f.name, f.size, f.sha256) for f in info.files]))


@app.command("show")
def show_cmd(ctx: typer.Context, version: Annotated[str, typer.Argument(help="Version, e.g. 1.2.0.")]) -> None:
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
    a: Annotated[str, typer.Argument(help="First version.")],
    b: Annotated[str, typer.Argument(help="Second version.")],
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
    version: Annotated[str, typer.Argument(help="Version to put into production.")],
    force: Annotated[bool, typer.Option(help="Promote even if the validation gate fails.")] = False,
    reason: Annotated[str, typer.Option(help="Why (recorded in the history).")] = "",
) -> None:
    """Switch production to a version, atomically, if it passes the gate (exit 1 if not)."""
    from nbalife.services.registry import gate_of

    rt = runtime(ctx)
    switch = _registry(rt).promote(version, gate=gate_of(rt.settings), force=force, reason=reason)
    show(rt.json, switch, _switch_table(switch))


@app.command()
def rollback(
    ctx: typer.Context,
    version: Annotated[Optional[str], typer.Argument(help="Target version; default: the previous production.")] = None,
    reason: Annotated[str, typer.Option(help="Why (recorded in the history).")] = "",
) -> None:
    """Switch production back to a version (default: the one before), atomically."""
    rt = runtime(ctx)
    switch = _registry(rt).rollback(version, reason=reason)
    show(rt.json, switch, _switch_table(switch))


@app.command()
def verify(
    ctx: typer.Context,
    version: Annotated[Optional[str], typer.Argument(help="Version; default: production.")] = None,
    all_versions: Annotated[bool, typer.Option("--all", help="Verify every version.")] = False,
) -> None:
    """Recompute checksums; exit 1 naming every mismatched or missing file."""
    from nbalife.services.registry import raise_if_corrupt
    from nbalife.services.registry import verify as run

    rt = runtime(ctx)
    registry = _registry(rt)
    if version is None and not all_versions:
        version = registry.load_production().version if registry.current_version() else None
        if version is None:
            raise typer.BadParameter("no production version: name one or use --all")
    result = run(registry, None if all_versions else version)
    show(rt.json, result, table("Verification", ["version", "ok", "problems"], [
        (r.version, "ok" if r.ok else "FAILED", "; ".join(f"{p.name}: {p.describe()}" for p in r.problems) or "-")
        for r in result.reports]))
    raise_if_corrupt(result)


@app.command()
def gc(
    ctx: typer.Context,
    keep: Annotated[Optional[int], typer.Option(min=1, help="Versions to keep (default: registry.keep_versions).")] = None,
) -> None:
    """Delete old versions; never production, the previous one, or one under an active A/B test."""
    from nbalife.services.registry import ab_protected

    rt = runtime(ctx)
    result = _registry(rt).gc(keep or rt.settings.registry.keep_versions, protected=ab_protected(rt.engine))
    show(rt.json, result, key_values("Registry gc", {
        "deleted": ", ".join(result.deleted) or "-", "kept": ", ".join(result.kept) or "-",
        "cleaned": ", ".join(result.cleaned) or "-"}))


@app.command()
def history(ctx: typer.Context) -> None:
    """Every registration, promotion, rollback and gc: time, from, to, reason, user, host."""
    rt = runtime(ctx)
    events = _registry(rt).history()
    show(rt.json, events, table("Registry history", ["time", "action", "from", "to", "reason", "user", "host"],
                                [(e.time, e.action, e.from_version, e.to_version, e.reason, e.user, e.host)
                                 for e in events]))
