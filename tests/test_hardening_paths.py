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
