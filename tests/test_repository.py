"""The repository stands on its own: nothing in it reaches outside for data."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHECKED = ["tests", "benchmarks", "nbalife", "Makefile", ".ci"]
# spelled in pieces so that this file does not name what it forbids
FORBIDDEN = ["../" + "shared", "shared" + "/data"]


def offenders(root: Path) -> list[str]:
    """Every file under the checked paths of ``root`` that names a forbidden path, and the name."""
    found: list[str] = []
    for name in CHECKED:
        top = root / name
        files = [p for p in top.rglob("*") if p.is_file()] if top.is_dir() else [top] if top.is_file() else []
        for path in files:
            if "__pycache__" in path.parts:
                continue
            text = path.read_bytes().decode("utf-8", errors="replace")
            found += [f"{path.relative_to(root)} names {word!r}" for word in FORBIDDEN if word in text]
    return found


def test_no_file_reads_outside_the_repository() -> None:
    assert all((REPO / name).exists() for name in CHECKED)
    assert offenders(REPO) == [], "read data/nba/ instead"


def test_the_guard_finds_a_file_that_reaches_outside(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text(f"PATH = '{FORBIDDEN[0]}/{FORBIDDEN[1]}/a.csv'\n")
    (tmp_path / "Makefile").write_text("test:\n\tpytest\n")
    assert offenders(tmp_path) == [f"tests/test_x.py names {FORBIDDEN[0]!r}", f"tests/test_x.py names {FORBIDDEN[1]!r}"]


def test_bundled_seasons_are_complete(repo_data: Path) -> None:
    expected = {"nba_2015_16_early.csv": 319, "nba_2020-21.csv": 1080, "nba_2021-22.csv": 1227,
                "nba_2022-23.csv": 1230}
    counts = {name: len((repo_data / name).read_text().splitlines()) - 1 for name in expected}
    assert counts == expected
    assert "provenance" in (repo_data / "README.md").read_text().lower()
