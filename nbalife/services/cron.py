"""The schedule as this installation runs it: shown, installed into or removed from a crontab."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from nbalife.errors import BadInput
from nbalife.files import check_output_path, write_atomic
from nbalife.ops.schedule import Installation, crontab, kubernetes, with_block

WRAPPER = Path(__file__).resolve().parents[2] / "scripts" / "nbalife-cron"


def installation(home: Path) -> Installation:
    """This installation's absolute paths: the home, the nbalife beside this Python, the wrapper."""
    if not WRAPPER.is_file():
        raise BadInput(f"{WRAPPER}: the cron wrapper is missing (install nbalife from its source checkout)")
    nbalife = Path(sys.executable).parent / "nbalife"
    return Installation(home.resolve(), nbalife if nbalife.exists() else Path(shutil.which("nbalife") or nbalife),
                        WRAPPER)


def show(home: Path, *, fmt: str = "crontab", image: str = "nbalife:latest",
         env: dict[str, str] | None = None, namespace: str | None = None) -> str:
    """The schedule as crontab lines with this installation's paths, or as Kubernetes CronJobs."""
    if fmt == "crontab":
        return crontab(installation(home))
    if fmt == "kubernetes":
        return kubernetes(image, env or {}, namespace=namespace)
    raise BadInput(f"--format {fmt[:40]!r}: expected crontab or kubernetes")


@dataclass(frozen=True)
class CrontabChange:
    """What ``cron install`` or ``uninstall`` did to which crontab."""

    target: str
    changed: bool
    lines: int


def install(home: Path, *, file: Path | None = None) -> CrontabChange:
    """Put nbalife's marked block into the crontab (the user's, or ``file``); idempotent."""
    return _apply(crontab(installation(home)), file)


def uninstall(*, file: Path | None = None) -> CrontabChange:
    """Remove nbalife's marked block; other lines are left alone; idempotent."""
    return _apply(None, file)


def _apply(block: str | None, file: Path | None) -> CrontabChange:
    before = _read(file)
    after = with_block(before, block)
    if after != before:
        _write(file, after)
    return CrontabChange(str(file) if file else "user crontab", after != before, len(after.splitlines()))


def _crontab_command() -> str:
    command = shutil.which("crontab")
    if command is None:
        raise BadInput("crontab: command not found (install cron, or give --file)")
    return command


def _read(file: Path | None) -> str:
    if file is not None:
        if file.is_dir():
            raise BadInput(f"--file {file}: is a folder")
        try:
            return file.read_text() if file.exists() else ""
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInput(f"--file {file}: cannot read: {exc}") from None
    proc = subprocess.run([_crontab_command(), "-l"], capture_output=True, text=True)
    if proc.returncode != 0:
        if "no crontab" in proc.stderr:
            return ""
        raise BadInput(f"crontab -l failed: {proc.stderr.strip()[:200]}")
    return proc.stdout


def _write(file: Path | None, text: str) -> None:
    if file is not None:
        check_output_path(file, option="--file")
        write_atomic(file, text.encode())
        return
    proc = subprocess.run([_crontab_command(), "-"], input=text, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BadInput(f"crontab - failed: {proc.stderr.strip()[:200]}")
