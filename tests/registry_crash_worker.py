"""Subprocess entry point for the registry's crash and concurrency tests.

    python registry_crash_worker.py HOME FAULT_DELAY_S OP [ARG...]

OP is ``register SRC_DIR KIND``, ``promote VERSION``, ``rollback [VERSION]`` or
``gc KEEP``. Prints ``ready`` once imports are done (the parent starts its kill timer
then), runs the operation with ``fault_delay_s`` sleeps between its steps, prints
``done VERSION`` and exits 0, or exits with the error's exit code.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, installed or not

from nbalife.errors import NbalifeError  # noqa: E402
from nbalife.registry import Registry  # noqa: E402


def main(argv: list[str]) -> int:
    home, delay, op, *args = argv
    registry = Registry(Path(home), fault_delay_s=float(delay), lock_wait_s=30, user="worker", host="test")
    print("ready", flush=True)
    try:
        if op == "register":
            result = registry.register(Path(args[0]), args[1], description="crash test").version
        elif op == "promote":
            result = registry.promote(args[0], reason="crash test").to_version
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
