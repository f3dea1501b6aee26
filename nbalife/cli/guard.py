"""``nbalife guard``: the guardrails that catch a bad production, a silent feed or a stopped cron."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from nbalife.cli.render import key_values, show, table
from nbalife.cli.runtime import runtime
from nbalife.errors import CheckFailed

NAME = "guard"
app = typer.Typer(help="Guardrails: worse production, missing predictions, stale results or jobs, swapped feeds.",
                  no_args_is_help=True)


@app.command()
def check(
    ctx: typer.Context,
    apply: Annotated[bool, typer.Option(
        "--apply", help="Act: roll a worse production back to the previous one (guard.action: rollback).")] = False,
    only: Annotated[Optional[List[str]], typer.Option(
        "--only", metavar="NAME",
        help="Run only this guardrail (repeat for several): worse-production, missing-predictions, stale-results, "
             "stale-jobs, feed-swap.")] = None,
    prometheus: Annotated[Optional[Path], typer.Option(
        "--prometheus", help="Also write the guardrails' series to this node_exporter textfile (*.prom).",
        metavar="FILE")] = None,
) -> None:
    """Run every guardrail, record a guard_check event, and exit 1 naming each one that fires
    (after rolling back a worse production with --apply)."""
    from nbalife.services.guard import check as run
    from nbalife.services.registry import open_registry

    rt = runtime(ctx)
    result = run(rt.engine, open_registry(rt.home, rt.engine, rt.settings), rt.settings, home=rt.home,
                 now=rt.now(), apply=apply, only=only, prometheus=prometheus)
    switch = result.rollback
    show(rt.json, result,
         table("Guardrails", ["guardrail", "state", "finding"],
               [(f.guardrail, f.state, f.message) for f in result.findings]),
         key_values("Guard check", {
             "outcome": result.outcome, "action": result.action or "none",
             "rollback": None if switch is None else f"{switch.from_version} -> {switch.to_version}",
         }))
    if result.outcome == "alert":
        raise CheckFailed(f"guard check: {result.message}")
