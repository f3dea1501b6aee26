"""Subprocess entry point for the registry's crash and concurrency tests.

    python registry_crash_worker.py HOME DB_URL FAULT_DELAY_S OP [ARG...]

OP is ``register SRC_DIR KIND``, ``promote VERSION [force]``, ``rollback [VERSION]`` or
``gc KEEP``, run on the registry the commands use (services.registry.open_registry: one store
transaction per mutation, with its lifecycle event) with ``fault_delay_s`` sleeps between its
steps; ``upgrade``: ``nbalife db upgrade`` of a store at the revision before the registry moved
into it (importing HOME's folder registry); or ``cli ARG...``: an ``nbalife`` command line, run in
this process once its modules are imported. Prints ``ready`` when imports are done (the parent starts its kill timer then),
then exits with the operation's exit code.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, installed or not

from nbalife.config import Settings  # noqa: E402
from nbalife.errors import NbalifeError  # noqa: E402
from nbalife.services.registry import open_registry  # noqa: E402
from nbalife.store.engine import make_engine  # noqa: E402
from nbalife.store.migrate import open_store  # noqa: E402

# what the cli commands load lazily, loaded before ``ready`` so a kill lands in the command itself
PRELOAD = ("pandas", "numpy", "torch", "nbalife.services.train", "nbalife.services.data", "nbalife.services.abtest",
           "nbalife.services.conformal", "nbalife.services.dejavu", "nbalife.services.outcomes", "nbalife.cli.app")


def main(argv: list[str]) -> int:
    home, db_url, delay, op, *args = argv
    if op == "cli":
        return run_cli(home, db_url, args)
    engine = make_engine(db_url)
    if op == "upgrade":
        import datetime as dt

        from nbalife.services.db import upgrade

        print("ready", flush=True)
        upgrade(engine, home=Path(home), now=dt.datetime.now(dt.timezone.utc))
        print("done upgrade", flush=True)
        return 0
    open_store(engine)
    registry = open_registry(Path(home), engine, Settings(), lock_wait_s=30, fault_delay_s=float(delay))
    print("ready", flush=True)
    try:
        if op == "register":
            result = registry.register(Path(args[0]), args[1], description="crash test").version
        elif op == "promote":
            result = registry.promote(args[0], reason="crash test", force=args[1:] == ["force"]).to_version
        elif op == "rollback":
            result = registry.rollback(args[0] if args else None, reason="crash test").to_version
        elif op == "gc":
            result = ",".join(registry.gc(int(args[0])).deleted)
        else:
            raise SystemExit(f"unknown op {op!r}")
    except NbalifeError as exc:
        print(exc, file=sys.stderr)
        return exc.exit_code
    print(f"done {result}", flush=True)
    return 0


def run_cli(home: str, db_url: str, args: list[str]) -> int:
    """``nbalife --home HOME --db DB_URL ARG...`` in this process; its exit code."""
    import importlib

    for module in PRELOAD:
        importlib.import_module(module)
    from nbalife.cli.app import app

    print("ready", flush=True)
    try:
        app(["--home", home, "--db", db_url, *args], prog_name="nbalife")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
