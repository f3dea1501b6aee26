"""The schedule as this installation runs it: shown, installed into or removed from a crontab.

A crontab belongs to its operator. nbalife edits only its own marked block, refuses a block it
cannot find unambiguously, keeps every other line byte for byte, and keeps the file's mode and
owner (a symlink is followed, not replaced).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nbalife.config import Settings
from nbalife.errors import BadInput, quoted
from nbalife.files import check_output_path, write_atomic
from nbalife.ops.freeze import parse_freeze
from nbalife.ops.schedule import Installation, check_user, crontab, freeze_conflicts, kubernetes, with_block

WRAPPER = Path(__file__).resolve().parents[2] / "scripts" / "nbalife-cron"
SYSTEM_FOLDER = Path("/etc/cron.d")
SYSTEM_FILE = SYSTEM_FOLDER / "nbalife"
SYSTEM_CRONTAB = Path("/etc/crontab")


def installation(home: Path) -> Installation:
    """This installation's absolute paths: the home, the nbalife beside this Python, the wrapper."""
    if not WRAPPER.is_file():
        raise BadInput(f"{WRAPPER}: the cron wrapper is missing (install nbalife from its source checkout)")
    nbalife = Path(sys.executable).parent / "nbalife"
    return Installation(home.resolve(), nbalife if nbalife.exists() else Path(shutil.which("nbalife") or nbalife),
                        WRAPPER)


@dataclass(frozen=True)
class Schedule:
    """The schedule as text, and what an operator should know about it."""

    text: str
    warnings: list[str] = field(default_factory=list)


def warnings(settings: Settings, *, host: bool = True, host_zone: dt.tzinfo | None = None) -> list[str]:
    """Jobs whose time falls inside the live-game freeze: in league time, and (``host``) on this
    host's clock when it is another zone (a cron that ignores CRON_TZ runs them there)."""
    zone = settings.league.timezone
    freeze = parse_freeze(settings.registry.freeze, zone) if settings.registry.freeze else None
    found = freeze_conflicts(freeze, zone)
    here = _zone_name(_host_zone() if host_zone is None else host_zone) if host else None
    if not found and here is not None and here != zone:
        on_host = freeze_conflicts(freeze, here)
        if on_host:
            found.append(f"this host's clock is {here}, not {zone}: a cron that ignores CRON_TZ "
                         f"(check `man 5 crontab`) runs {len(on_host)} daily job(s) inside the freeze, e.g. "
                         + on_host[0].split(",")[0])
    return found


def _host_zone() -> dt.tzinfo | None:
    return dt.datetime.now().astimezone().tzinfo


def _zone_name(zone: dt.tzinfo | None) -> str | None:
    """An IANA name for the host's zone (its key, ``TZ``, ``/etc/localtime``), else one for its
    whole-hour offset from UTC, else None."""
    if zone is None:
        return None
    key = getattr(zone, "key", None)
    if key:
        return key
    named = os.environ.get("TZ", "").lstrip(":")
    if not named:
        try:
            named = str(Path("/etc/localtime").resolve()).partition("zoneinfo/")[2]
        except OSError:
            named = ""
    if named:
        from nbalife.ops.freeze import check_zone

        try:
            return check_zone(named)
        except BadInput:
            pass
    offset = dt.datetime.now(zone).utcoffset() or dt.timedelta(0)
    hours, rest = divmod(int(offset.total_seconds()), 3600)
    if rest:
        return None
    return "UTC" if hours == 0 else f"Etc/GMT{-hours:+d}"  # the Etc/ names count the other way


def show(home: Path, settings: Settings, *, fmt: str = "crontab", image: str = "nbalife:latest",
         env: dict[str, str] | None = None, namespace: str | None = None, user: str | None = None,
         system: bool = False, secret: str = "nbalife-db", secret_key: str = "url") -> Schedule:
    """The schedule as crontab lines with this installation's paths (the user column with
    ``system``), or as Kubernetes CronJobs; with the freeze warnings."""
    zone = settings.league.timezone
    if fmt == "crontab":
        text = crontab(installation(home), zone=zone, user=_user(user) if system else None)
    elif fmt == "kubernetes":
        text = kubernetes(image, env or {}, zone=zone, namespace=namespace, secret=secret, secret_key=secret_key)
    else:
        raise BadInput(f"--format {quoted(fmt, 40)}: expected crontab or kubernetes")
    return Schedule(text, warnings(settings, host=fmt == "crontab"))


@dataclass(frozen=True)
class CrontabChange:
    """What ``cron install`` or ``uninstall`` did to which crontab."""

    target: str
    changed: bool
    lines: int
    user: str | None = None
    warnings: list[str] = field(default_factory=list)


def system_target(file: Path | None, system: bool) -> tuple[Path | None, bool]:
    """The file to edit and whether it is a system crontab (one with a user column): ``--system``
    alone is ``/etc/cron.d/nbalife``; a file in ``/etc/cron.d`` or ``/etc/crontab`` is one."""
    if system and file is None:
        return SYSTEM_FILE, True
    if file is None:
        return None, False
    absolute = Path(os.path.abspath(file))
    in_folder = absolute.parent == SYSTEM_FOLDER
    if in_folder and not all(c.isalnum() or c in "-_" for c in absolute.name):
        raise BadInput(f"--file {quoted(str(file))}: cron ignores files in /etc/cron.d whose names hold "
                       f"anything but letters, digits, '-' and '_' (use /etc/cron.d/nbalife)")
    return file, system or in_folder or absolute == SYSTEM_CRONTAB


def install(home: Path, settings: Settings, *, file: Path | None = None, system: bool = False,
            user: str | None = None) -> CrontabChange:
    """Put nbalife's marked block into the crontab (the user's, or ``file``); idempotent."""
    target, with_user = system_target(file, system)
    owner = _user(user) if with_user else None
    block = crontab(installation(home), zone=settings.league.timezone, user=owner)
    change = _apply(block, target)
    return CrontabChange(change.target, change.changed, change.lines, owner, warnings(settings))


def uninstall(*, file: Path | None = None, system: bool = False) -> CrontabChange:
    """Remove nbalife's marked block; other lines are left alone; idempotent."""
    target, _ = system_target(file, system)
    return _apply(None, target)


def _user(user: str | None) -> str:
    if user is None:
        import pwd

        try:
            user = pwd.getpwuid(os.geteuid()).pw_name
        except KeyError:
            raise BadInput(f"uid {os.geteuid()} has no login name: give --user") from None
    return check_user(user)


def _apply(block: str | None, file: Path | None) -> CrontabChange:
    source = f"--file {file}" if file is not None else "user crontab"
    target = _real(file) if file is not None else None
    before = _read(target, source)
    after = with_block(before, block, source)
    if after != before:
        _write(target, after, source, before)
    return CrontabChange(str(file) if file is not None else "user crontab", after != before,
                         len(after.splitlines()))


def _real(file: Path) -> Path:
    """The file a path names: a symlink (``/etc/cron.d/nbalife -> /srv/...``) is edited where it points."""
    try:
        return Path(os.path.realpath(file, strict=False)) if file.is_symlink() else file
    except OSError as exc:
        raise BadInput(f"--file {file}: {exc.strerror}") from None


def _crontab_command() -> str:
    command = shutil.which("crontab")
    if command is None:
        raise BadInput("crontab: command not found (install cron, or give --file)")
    return command


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")  # any byte survives the round trip


def _read(file: Path | None, source: str) -> str:
    if file is not None:
        if file.is_dir():
            raise BadInput(f"{source}: is a folder")
        try:
            return _decode(file.read_bytes()) if file.exists() else ""
        except OSError as exc:
            raise BadInput(f"{source}: cannot read: {exc.strerror}") from None
    proc = subprocess.run([_crontab_command(), "-l"], capture_output=True)
    if proc.returncode != 0:
        error = _decode(proc.stderr).strip()
        if "no crontab" in error:
            return ""
        raise BadInput(f"crontab -l failed: {quoted(error[:200], 200)}")
    return _decode(proc.stdout)


def _write(file: Path | None, text: str, source: str, read: str) -> None:
    data = text.encode("utf-8", "surrogateescape")
    if file is None:
        proc = subprocess.run([_crontab_command(), "-"], input=data, capture_output=True)
        if proc.returncode != 0:
            raise BadInput(f"crontab - failed: {quoted(_decode(proc.stderr).strip()[:200], 200)}")
        return
    check_output_path(file, option="--file")
    if not os.access(file.parent, os.W_OK | os.X_OK):
        raise BadInput(f"{source}: folder {file.parent} is not writable")
    try:
        before = file.stat()
    except FileNotFoundError:
        _replace(file, data, 0o644 if file.parent == SYSTEM_FOLDER else None, source)
        return
    if before.st_uid != os.geteuid() and os.geteuid() != 0:
        raise BadInput(f"{source}: owned by uid {before.st_uid}; rewriting it would change its owner "
                       f"(run as that user or as root)")

    def keep_owner(tmp: Path) -> None:
        tmp.write_bytes(data)
        if (before.st_uid, before.st_gid) != (os.geteuid(), os.getegid()):
            try:
                os.chown(tmp, before.st_uid, before.st_gid)
            except PermissionError:
                raise BadInput(f"{source}: cannot keep its group (gid {before.st_gid}); run as root or a "
                               f"member of that group") from None

    if _read(file, source) != read:
        raise BadInput(f"{source}: changed while nbalife was editing it; run the command again")
    _replace(file, keep_owner, None, source)  # write_atomic keeps the file's mode


def _replace(file: Path, data: bytes | Callable[[Path], None], mode: int | None, source: str) -> None:
    try:
        write_atomic(file, data, mode=mode)
    except OSError as exc:
        raise BadInput(f"{source}: cannot write: {exc.strerror or exc}") from None
