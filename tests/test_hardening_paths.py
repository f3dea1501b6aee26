"""Hardening: every output path goes through one check; destructive defaults refuse; a mistyped
home is never created by a command that only reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from nbalife.errors import BadInput
from nbalife.files import check_output_path
from nbalife.services.export import check_prom_path
from tests.conftest import run_nbalife


@pytest.mark.parametrize(("args", "message"), [
    (["data", "export", "--out", "{folder}"], "--out {folder}: is a folder, not a file"),
    (["data", "simulate", "--games", "5", "--out", "{folder}"], "--out {folder}: is a folder, not a file"),
    (["data", "export", "--out", "{tmp}/missing/x.csv"], "folder {tmp}/missing does not exist"),
    (["data", "simulate", "--out", "{tmp}/missing/x.csv"], "folder {tmp}/missing does not exist"),
    (["data", "simulate", "--out", "{tmp}/x.xlsx"], "unknown file type '.xlsx'"),
    (["train", "--out", "{file}"], "--out {file}: exists and is not a folder"),
    (["train", "--out", "{tmp}/missing/models"], "folder {tmp}/missing does not exist"),
    (["cron", "install", "--file", "{folder}"], "is a folder"),
    (["cron", "install", "--file", "{tmp}/missing/crontab"], "folder {tmp}/missing does not exist"),
])
def test_output_paths_are_checked_before_anything_runs(home: Path, tmp_path: Path, args: list[str],
                                                       message: str) -> None:
    folder = tmp_path / "out.csv"
    folder.mkdir()
    file = tmp_path / "file"
    file.write_text("keep")
    names = {"folder": folder, "file": file, "tmp": tmp_path}
    proc = run_nbalife("--home", str(home), *[a.format(**names) for a in args])
    assert proc.returncode == 2, proc.stderr
    assert message.format(**names) in proc.stderr and proc.stderr.count("\n") == 1
    assert file.read_text() == "keep" and not any(folder.iterdir())


@pytest.mark.parametrize(("name", "kwargs", "message"), [
    ("x.prom", {"option": "--prometheus", "suffixes": (".prom",)}, None),
    ("x.txt", {"option": "--prometheus", "suffixes": (".prom",)}, "unknown file type '.txt' (use .prom)"),
    ("dir.prom", {"option": "--prometheus", "suffixes": (".prom",)}, "is a folder, not a file"),
    ("nowhere/x.prom", {"option": "--prometheus"}, "folder nowhere does not exist"),
    ("in.csv", {"option": "--out", "source": "in.csv"}, "is the input file"),
    ("file", {"option": "--out", "folder": True}, "exists and is not a folder"),
    ("new-folder", {"option": "--out", "folder": True}, None),
])
def test_the_one_output_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, kwargs: dict,
                              message: str | None) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dir.prom").mkdir()
    (tmp_path / "file").write_text("x")
    if message is None:
        assert check_output_path(Path(name), **kwargs) == Path(name)
        return
    with pytest.raises(BadInput, match=f"^{kwargs['option']} {name}: .*{message.replace('(', '.').replace(')', '.')}"):
        check_output_path(Path(name), **kwargs)
    assert not (tmp_path / "new-folder").exists()


def test_prometheus_path_uses_the_one_check(tmp_path: Path) -> None:
    (tmp_path / "d.prom").mkdir()
    with pytest.raises(BadInput, match="--prometheus .*: is a folder, not a file"):
        check_prom_path(tmp_path / "d.prom")


def test_demo_refuses_a_home_that_is_not_empty_unless_forced(home: Path) -> None:
    (home / "nbalife.db").write_bytes(b"production data")
    proc = run_nbalife("--home", str(home), "demo", "--quick")
    assert proc.returncode == 2 and "is not empty (nbalife.db)" in proc.stderr and "--force" in proc.stderr
    assert (home / "nbalife.db").read_bytes() == b"production data"
    assert sorted(p.name for p in home.iterdir()) == ["nbalife.db"]


def test_demo_accepts_an_empty_home_with_only_a_config(home: Path) -> None:
    from nbalife.services.demo import check_demo_home

    (home / "config.yaml").write_text("lstm:\n  epochs: 1\n")
    check_demo_home(home, force=False)
    check_demo_home(home / "new", force=False)
    check_demo_home(None, force=False)
    (home / "models").mkdir()
    with pytest.raises(BadInput, match="is not empty"):
        check_demo_home(home, force=False)
    check_demo_home(home, force=True)


@pytest.mark.parametrize("command", [["data", "summary"], ["db", "check"], ["metrics", "report"], ["status"],
                                     ["registry", "list"], ["history"], ["config", "show"],
                                     ["data", "export", "--out", "x.csv"]])
def test_read_only_commands_never_create_a_mistyped_home(tmp_path: Path, command: list[str]) -> None:
    missing = tmp_path / "hoem"
    proc = run_nbalife("--home", str(missing), *command, cwd=tmp_path)
    assert proc.returncode == 2 and f"--home {missing}: no such folder" in proc.stderr
    assert not missing.exists()


def test_mutating_commands_create_a_new_home(tmp_path: Path) -> None:
    new = tmp_path / "new-home"
    proc = run_nbalife("--home", str(new), "db", "upgrade")
    assert proc.returncode == 0, proc.stderr
    assert (new / "nbalife.db").is_file()


def test_a_locks_path_that_is_a_file_is_exit_2(home: Path) -> None:
    (home / "locks").write_text("not a folder")
    proc = run_nbalife("--home", str(home), "db", "upgrade")
    assert proc.returncode == 2 and "cannot be used as a lock file" in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


# Every command that writes a file: its option, the file's suffix, and the arguments it needs
# besides. The output check runs before the work, so none of them gets as far as its inputs.
WRITERS = {
    "report --out": (["report", "--out"], ".html", []),
    "metrics export --prometheus": (["metrics", "export", "--prometheus"], ".prom", []),
    "data export --out": (["data", "export", "--out"], ".csv", []),
    "data simulate --out": (["data", "simulate", "--games", "5", "--out"], ".csv", []),
    "predict --output": (["predict", "--output"], ".csv", ["--input", "{games}"]),
    "replay --report": (["replay", "--report"], ".html", ["--games", "{games}"]),
    "cron install --file": (["cron", "install", "--file"], "", []),
    "train --out": (["train", "--out"], "", []),
}
UNWRITABLE = {
    "/proc": "/proc/nbalife-x{suffix}",  # a pseudo-filesystem that takes no new file
    "/sys": "/sys/nbalife-x{suffix}",
    "long name": "{tmp}/" + "n" * 250 + "{suffix}",  # write_atomic's temporary name would be too long
}


def _writer_args(writer: str, target: str, tmp_path: Path, repo_data: Path) -> list[str]:
    command, suffix, extra = WRITERS[writer]
    out = target.format(suffix=suffix, tmp=tmp_path)
    return [*command, out, *[a.format(games=repo_data / "nba_2021-22.csv") for a in extra]]


@pytest.mark.parametrize("where", sorted(UNWRITABLE))
@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_an_unwritable_output_is_refused_before_the_work(cli, home: Path, tmp_path: Path, repo_data: Path,
                                                         writer: str, where: str) -> None:
    args = _writer_args(writer, UNWRITABLE[where], tmp_path, repo_data)
    result = cli(*args)
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    option = WRITERS[writer][0][-1]
    assert message.startswith(f"error: {option} ") and ": cannot write in folder " in message, message
    assert len(message.splitlines()) == 1 and "Traceback" not in result.output
    assert not (home / "nbalife.db").exists() or writer != "replay --report"


@pytest.mark.parametrize("writer", sorted(w for w in WRITERS if w != "train --out"))  # a folder: checked above
def test_an_output_that_is_a_device_is_refused(cli, home: Path, tmp_path: Path, repo_data: Path, writer: str) -> None:
    command, _, extra = WRITERS[writer]
    result = cli(*command, "/dev/null", *[a.format(games=repo_data / "nba_2021-22.csv") for a in extra])
    assert result.exit_code == 2, result.output
    assert "/dev/null" in result.stderr and ("not a regular file" in result.stderr
                                             or "unknown file type" in result.stderr)
    assert Path("/dev/null").is_char_device()


def test_replay_refuses_an_unwritable_report_before_reading_the_games(home: Path, tmp_path: Path) -> None:
    proc = run_nbalife("--home", str(home), "replay", "--games", str(tmp_path / "missing.csv"),
                       "--report", "/proc/replay.html")
    assert proc.returncode == 2
    assert proc.stderr == "error: --report /proc/replay.html: cannot write in folder /proc: No such file or directory\n"


@pytest.mark.parametrize("writer", ["report --out", "metrics export --prometheus", "data export --out"])
def test_unwritable_outputs_as_a_process(home: Path, tmp_path: Path, repo_data: Path, writer: str) -> None:
    proc = run_nbalife("--home", str(home), *_writer_args(writer, "/proc/x{suffix}", tmp_path, repo_data))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "cannot write in folder /proc" in proc.stderr


def test_the_check_leaves_nothing_behind(tmp_path: Path) -> None:
    check_output_path(tmp_path / "x.html", option="--out", suffixes=(".html",))
    check_output_path(tmp_path / "models", option="--out", folder=True)
    assert list(tmp_path.iterdir()) == []


def test_an_atomic_write_keeps_the_replaced_file_s_mode_and_writes_through_a_symlink(tmp_path: Path) -> None:
    from nbalife.files import write_atomic

    secret = tmp_path / "report.html"
    secret.write_text("old")
    secret.chmod(0o600)
    link = tmp_path / "latest.html"
    link.symlink_to(secret)
    write_atomic(link, "new")
    assert link.is_symlink() and secret.read_text() == "new"
    assert secret.stat().st_mode & 0o777 == 0o600
