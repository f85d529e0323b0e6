"""No command destroys what it did not create, and project names are names."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from tests.conftest import FILM_BOARD, run_cli


def _snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with a digest of its content (links as their target)."""
    seen = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            seen[rel] = "link:" + os.readlink(path)
        elif path.is_file():
            seen[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            seen[rel] = "dir"
    return seen


def test_make_tiny_refuses_a_folder_it_did_not_make(tmp_path: Path) -> None:
    mine = tmp_path / "photos"
    mine.mkdir()
    (mine / "holiday.jpg").write_bytes(b"precious")
    before = _snapshot(tmp_path)
    for args in (("models", "make-tiny", str(mine), "--random"), ("models", "make-tiny", str(mine), "--random", "--force"),
                 ("models", "make-tiny", str(mine))):
        code, out, err = run_cli(*args)
        assert code == 2 and "not empty and was not made by storyreel" in err and "Traceback" not in err
    assert _snapshot(tmp_path) == before
    (tmp_path / "file").write_text("x")
    assert run_cli("models", "make-tiny", str(tmp_path / "file"), "--random")[0] == 2


def test_make_tiny_replaces_its_own_model_only_with_force(tmp_path: Path) -> None:
    target = tmp_path / "model"
    assert run_cli("models", "make-tiny", str(target), "--random", "--family", "ltx")[0] == 0
    first = _snapshot(target)
    code, _, err = run_cli("models", "make-tiny", str(target), "--random")
    assert code == 2 and "add --force" in err and _snapshot(target) == first
    assert run_cli("models", "make-tiny", str(target), "--random", "--force")[0] == 0
    assert (target / "model_index.json").read_text() != first.get("model_index.json")  # a wan pipeline now
    assert '"WanImageToVideoPipeline"' in (target / "model_index.json").read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # nothing left aside
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_cli("models", "make-tiny", str(empty), "--random")[0] == 0


@pytest.mark.parametrize("name", ["../victim", "a/b", "..", ".hidden", "x\x01y", " padded"])
def test_a_project_name_that_is_not_a_name_is_refused_before_anything(tmp_path: Path, write, name: str) -> None:
    board = write("film/storyboard.yaml", FILM_BOARD.replace("  audio: bed.wav\n", ""))
    (tmp_path / "victim" / ".staging").mkdir(parents=True)
    (tmp_path / "victim" / ".staging" / "keep.txt").write_text("mine")
    home = tmp_path / "home"
    before = _snapshot(tmp_path)
    for command in ("render", "submit"):
        code, out, err = run_cli(command, str(board), "--project", name, "--home", str(home))
        assert code == 2 and "--project" in err and "Traceback" not in out + err, err
    assert _snapshot(tmp_path) == before and not home.exists()


@pytest.mark.slow
def test_every_writing_command_touches_only_its_own_files(prefect_harness, tmp_path: Path, demo_home: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """render, rerender, approve, review, export and submit, on a project in a folder with a
    space: files appear only under <home>/<project>, in the home's database, or at the paths
    a command was given (--out, --otio); nothing that was there changes."""
    folder = tmp_path / "my film"
    folder.mkdir()
    (folder / "storyboard.yaml").write_text(FILM_BOARD.replace("  audio: bed.wav\n", "").replace(", thresholds: {flicker: 1.01}", ""))
    (folder / "notes.txt").write_text("the director's notes")
    (tmp_path / "elsewhere.txt").write_text("someone else's")
    monkeypatch.delenv("STORYREEL_DATABASE_URL", raising=False)
    home = str(demo_home)
    outputs = tmp_path / "out"

    def allowed(rel: str) -> bool:
        return rel.startswith(("home/my film", "home/storyreel.db", "out/")) or rel in ("home", "out")

    steps = [
        ("render", str(folder / "storyboard.yaml"), "--home", home, "--no-review"),
        ("rerender", "my film", "b", "--home", home),
        ("approve", "my film", "a", "--home", home),
        ("review", "my film", "--home", home),  # answers "q" below
        ("export", "my film", "--home", home, "--out", str(outputs / "cut.mp4"), "--otio", str(outputs / "cut.otio")),
        ("submit", str(folder / "storyboard.yaml"), "--home", home),
    ]
    import io

    for args in steps:
        monkeypatch.setattr("sys.stdin", io.StringIO("q\n"))
        before = _snapshot(tmp_path)
        code, out, err = run_cli(*args)
        assert code == 0, (args, err)
        after = _snapshot(tmp_path)
        changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        models = {k for k in changed if k.startswith("home/models")}
        assert not models, (args, models)
        assert all(allowed(k) for k in changed), (args, sorted(k for k in changed if not allowed(k)))
        assert all(after.get(k) == before[k] for k in before if not allowed(k))
    assert (folder / "notes.txt").read_text() == "the director's notes"
    code, _, err = run_cli("export", "my film", "--home", home, "--out", str(outputs / "cut.mp4"))
    assert code == 2 and "exists" in err  # an existing file is not overwritten without --force
    # nothing changed since: export reports the newest cut and writes no copy of it
    cuts = sorted(p.name for p in (demo_home / "my film" / "cuts").glob("*.mp4"))
    code, out, _ = run_cli("export", "my film", "--home", home, "--json")
    said = json.loads(out)
    assert code == 0 and said["unchanged"] is True and Path(said["path"]).name == cuts[-1]
    assert sorted(p.name for p in (demo_home / "my film" / "cuts").glob("*.mp4")) == cuts
    code, out, _ = run_cli("export", "my film", "--home", home, "--new", "--json")
    assert code == 0 and json.loads(out)["unchanged"] is False and json.loads(out)["number"] == len(cuts) + 1
