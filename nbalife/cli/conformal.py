"""``nbalife conformal``: coverage of production's intervals, and their recalibration."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from nbalife.cli.options import window_option
from nbalife.cli.render import key_values, show
from nbalife.cli.runtime import runtime

NAME = "conformal"
app = typer.Typer(help="Conformal interval coverage checks and recalibration.", no_args_is_help=True)


@app.command()
def check(
    ctx: typer.Context,
    days: Annotated[Optional[float], window_option("Window in days (default conformal.window_days).", low_days=1)] = None,
    apply: Annotated[bool, typer.Option("--apply", help="Promote the recalibrated version (also conformal.auto_apply).")] = False,
    method: Annotated[Optional[str], typer.Option(help="split, weighted or aci (default conformal.method).")] = None,
) -> None:
    """Coverage of the window against the target; on drift register a recalibrated patch version
    (exit 1 whenever drift is found, applied or not)."""
    from nbalife.errors import CheckFailed
    from nbalife.services.conformal import check as run
    from nbalife.services.registry import open_registry

    rt = runtime(ctx)
    registry = open_registry(rt.home, rt.engine, rt.settings)
    result = run(rt.engine, registry, rt.settings, now=rt.now(), days=days, method=method, apply=apply)
    fixed = result.recalibration
    show(rt.json, result, key_values(f"Conformal check of {result.production}", {
        "window": f"{result.since:%Y-%m-%d %H:%M} .. {result.until:%Y-%m-%d %H:%M}",
        "resolved predictions": result.n, "coverage": result.coverage, "target": result.target,
        "threshold": result.threshold, "mean width": result.width, "outcome": result.outcome,
        "miss CUSUM": "off" if result.cusum is None else f"{result.cusum:.2f} (alarm above {result.cusum_threshold:g})",
        **({} if fixed is None else {
            "rule": result.trigger, "method": fixed.method, "quantile": f"{fixed.old_quantile:.3f} -> {fixed.new_quantile:.3f}",
            "window coverage after": fixed.coverage_after, "registered": fixed.version,
            "promoted": fixed.applied, "gate refused": fixed.refused,
            "retired (stale candidates)": ", ".join(fixed.retired) or None}),
    }))
    if result.outcome == "too_few" and not rt.json:
        typer.echo(f"too few resolved predictions to judge: {result.n} < conformal.min_samples "
                   f"{result.min_samples}", err=True)
    if result.drift and fixed is not None:
        action = ("registered by an earlier check, promoted now" if fixed.applied and fixed.waiting
                  else "promoted" if fixed.applied
                  else f"registered by an earlier check, not promoted: {fixed.refused}" if fixed.waiting and fixed.refused
                  else f"registered, not promoted: {fixed.refused}" if fixed.refused
                  else "registered by an earlier check, still waiting (promote it with `nbalife registry "
                       "promote`, or run with --apply)" if fixed.waiting
                  else "registered (promote it with `nbalife registry promote`)")
        found = (f"miss CUSUM {result.cusum:.2f} is above {result.cusum_threshold:g}"
                 if result.trigger == "sequential" else
                 f"coverage {result.coverage:.3f} is more than {result.threshold:g} from {result.target:g}")
        raise CheckFailed(f"{found}: recalibrated {fixed.version} {action}")


@app.command()
def status(ctx: typer.Context) -> None:
    """Production's interval quantile, its method, when it was set, and the coverage since."""
    from nbalife.services.conformal import status as run
    from nbalife.services.registry import open_registry

    rt = runtime(ctx)
    result = run(rt.engine, open_registry(rt.home, rt.engine, rt.settings), now=rt.now())
    show(rt.json, result, key_values(f"Conformal layer of {result.version}", {
        "quantile": result.quantile, "interval": f"forecast ± {result.quantile:.3f}",
        "alpha": result.alpha, "alpha_t": result.alpha_t, "method": result.method,
        "set at": result.set_at, "set by": result.set_by, "resolved since": result.n_since,
        "coverage since": result.coverage_since, "mean width since": result.width_since,
        **_online_rows(result.online),
    }))


def _online_rows(online) -> dict:  # noqa: ANN001 - an OnlineStatus or None
    """The online layer's state, bound and path as lines of the status table."""
    if online is None:
        return {}
    rule = (f"{online.online} (step {online.step:g} points)" if online.online in ("quantile", "decaying")
            else f"aci (gamma {online.gamma:g})" if online.online == "aci" else "static")
    bound = "-" if online.bound is None else f"|miss rate - {online.alpha:g}| <= {online.bound:.4f}"
    recent = ", ".join(f"{p.day} {p.radius:.2f}" for p in online.path[-7:]) or "-"
    return {"online rule": rule, "layer": online.layer[:12], "start radius": online.start,
            "radius now": online.radius, "outcomes served": online.n, "misses": online.misses,
            "miss rate": online.miss_rate, "long-run bound": bound,
            "stored state = log": online.stored,
            "intervals re-checked": f"{online.checked} from the log, {online.differing} differ",
            "path (day radius)": recent}
