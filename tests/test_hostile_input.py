"""Hostile and absurd storyboards: each class answered with exit 2 and FILE[:LINE] in time.

Every case here once gave a traceback, a hang or minutes of CPU (the issue that asked for this
lists them). Each runs through the real entry point in-process; the time bound is the one the
README promises (2 s on a 2-core machine), measured around the command alone.
"""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli

BOUND = 2.0


def _check(*args: str) -> tuple[int, str]:
    start = time.perf_counter()
    code, out, err = run_cli(*args)
    seconds = time.perf_counter() - start
    assert "Traceback" not in out + err
    assert seconds < BOUND, f"{args} took {seconds:.2f} s"
    return code, err


def _refused(path: Path, needle: str, line: int | None = None, command: str = "validate") -> str:
    code, err = _check(command, str(path))
    assert code == 2, err
    where = f"{path}:{line}:" if line else f"{path}"
    assert err.startswith(f"Error: {where}"), err
    assert needle in err, err
    return err


def test_non_finite_and_absurd_numbers(write) -> None:
    _refused(write("inf.yaml", "title: t\nshots:\n  - {id: a, prompt: x, duration: .inf}\n"), "less than or equal to 600", 3)
    err = _refused(
        write(
            "absurd.yaml",
            "title: t\nsettings:\n  width: 1e30\n  height: 1.0e+30\n  fps: true\n  steps: 1e30\n  max_takes: 1e30\n"
            "  guidance: .inf\n  thresholds: {prompt: .nan, flicker: .inf}\nshots:\n  - {id: a, prompt: x, duration: 0.01}\n",
        ),
        "settings.width: must be a whole number from 1 to 4096",
        3,
    )
    for needle in (
        "settings.height: must be a whole number from 1 to 4096",
        ":5: settings.fps: must be a number, not true/false",  # not taken as 1
        "settings.steps: must be a whole number from 1 to 1000",
        "settings.max_takes: must be a whole number from 1 to 50",
        "settings.guidance: Input should be less than or equal to 50",
        "settings.thresholds.prompt: Input should be a finite number",
        "settings.thresholds.flicker: Input should be a finite number",
        ":11: shots.0.duration: 0.01 s at 16 fps is 0.16 frames; wan renders at least 5 frames",
    ):
        assert needle in err, needle


def test_a_duration_the_family_cannot_render_is_refused_at_validate(write, tiny_models) -> None:
    board = f"title: t\nsettings: {{model: {tiny_models['cogvideox']}}}\nshots:\n  - {{id: long, prompt: x, duration: 10}}\n"
    _refused(write("cog.yaml", board), "renders at most 49 frames (6.12 s): split the shot", 4)


def test_keys_names_and_paths_no_filesystem_takes(write, tmp_path: Path) -> None:
    _refused(write("key.yaml", "title: t\n? [a, b]\n: 1\nshots:\n  - {id: a, prompt: x}\n"), "a key must be a plain word", 2)
    _refused(write("user.yaml", "title: t\nsettings: {model: ~nosuchuser/x}\nshots:\n  - {id: a, prompt: x}\n"), "cannot be expanded", 2)
    long = "a" * 300 + ".png"
    _refused(write("long.yaml", f"title: t\nshots:\n  - {{id: a, prompt: x, reference: {long}}}\n"), "longer than the filesystem allows", 3)
    os.symlink("loop2.png", tmp_path / "loop1.png")
    os.symlink("loop1.png", tmp_path / "loop2.png")
    _refused(write("loop.yaml", "title: t\nshots:\n  - {id: a, prompt: x, reference: loop1.png}\n"), "a loop of symbolic links", 3)
    code, err = _check("validate", str(tmp_path / ("b" * 300 + ".yaml")))
    assert code == 2 and "longer than the filesystem allows" in err


def test_special_files_are_refused_before_reading(tmp_path: Path) -> None:
    zero = tmp_path / "zero.yaml"
    zero.symlink_to("/dev/zero")
    _refused(zero, "is not a regular file")
    fifo = tmp_path / "fifo.fountain"
    os.mkfifo(fifo)  # reading would wait for a writer forever
    _refused(fifo, "is not a regular file")
    big = tmp_path / "big.yaml"
    big.write_text("title: t\nshots:\n" + "  - {id: a, prompt: x}\n" * 260_000)  # 5.9 MB
    _refused(big, "storyboards are at most 1 MiB")


def test_yaml_alias_bomb_is_refused_without_expanding_it(write) -> None:
    text = 'title: t\na: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        text += f"{level}: &{level} [" + ",".join([f"*{previous}"] * 9) + "]\n"
    text += "style: *i\nshots:\n  - {id: a, prompt: x}\n"
    _refused(write("bomb.yaml", text), "YAML aliases expand this document past 100000 nodes", 1)
    # small shared blocks stay allowed
    ok = "title: t\nbase: &cam static wide shot\nshots:\n  - {id: a, prompt: x, camera: *cam}\n  - {id: b, prompt: y, camera: *cam}\n"
    assert _check("validate", str(write("ok.yaml", ok.replace("base:", "style:"))))[0] == 0


def test_yaml_errors_point_at_the_line_of_their_cause(write) -> None:
    text = 'title: t\nshots:\n  - id: a\n    prompt: "unclosed\n    duration: 2\n'  # 5 lines, quote opened on 4
    err = _refused(write("quote.yaml", text), "not valid YAML", 4)
    assert "while scanning a quoted scalar" in err


def test_every_problem_is_reported_in_one_pass(write) -> None:
    text = (
        "title: t\nsettings: {width: 30, fps: true}\ncharacters:\n  ana: {description: a woman}\nshots:\n"
        "  - {id: a, prompt: x, characters: [bob], duration: -1}\n"
        "  - {id: a, prompt: y, promt: z, reference: missing.png}\n"
        "  - {id: c, prompt: z, transition: {crossfade: 0.5}}\n"
    )
    err = _refused(write("many.yaml", text), "settings.fps: must be a number", 2)
    for needle in (
        ":2: settings.width: 30 is not allowed for a wan model",  # cross-field, beside a field error
        ":6: shots.0.characters.0: unknown character 'bob'",
        ":6: shots.0.duration: Input should be greater than 0",
        ":7: shots.1.id: shot id 'a' is used twice",
        ":7: shots.1.promt: unknown key 'promt'",
        ":7: shots.1.reference: reference image 'missing.png' does not exist",
        ":8: shots.2.transition: the last shot has no next shot to crossfade into",
    ):
        assert needle in err, needle


def test_fountain_lines_that_once_backtracked(write) -> None:
    cue = write("cue.fountain", "INT. ROOM\n\na red circle moves right on a black background\n\nA" + " " * 3000 + "b\nhello\n")
    assert _check("validate", str(cue))[0] == 0
    note = write("note.fountain", "INT. ROOM\n\nA door opens slowly.\n\n" + "[[" * 50_000 + "\n")
    code, out, _ = run_cli("plan", str(note), "--json")  # an unclosed note runs to the end: not a prompt
    assert code == 0 and [s["prompt"] for s in json.loads(out)] == ["A door opens slowly."]
    speakers = "".join(f"\nSPEAKER {chr(65 + i % 26)}{chr(65 + i // 26 % 26)}{chr(65 + i // 676 % 26)}\nHello.\n" for i in range(3000))
    many = write("many.fountain", "INT. ROOM\n\nA door opens.\n" + speakers)
    assert _check("plan", str(many), "--json")[0] == 0


def test_large_legal_storyboards_validate_in_time(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["scene", "shot", "description", "duration"])
        for i in range(8000):
            writer.writerow(["main", f"s{i}", "a red circle moves right on a black background", "2"])
    code, _ = _check("validate", str(path))
    assert code == 0


def test_strict_refuses_neutral_start_frames_and_names_the_shots(write, tiny_models) -> None:
    board = (
        f"title: t\nsettings: {{model: {tiny_models['wan']}}}\ncharacters:\n  red: {{description: a red circle, reference: red.png}}\n"
        "shots:\n  - {id: a, prompt: a red circle moves right}\n  - {id: b, prompt: it grows}\n"
        "  - {id: c, prompt: a blue square, continuity: cut}\n  - {id: d, prompt: a star, continuity: cut, characters: [red]}\n"
    )
    from PIL import Image

    path = write("board.yaml", board)
    Image.new("RGB", (16, 16), (200, 0, 0)).save(path.parent / "red.png")
    code, out, err = run_cli("validate", str(path))
    assert code == 0
    assert "Warning: shot a: starts from a neutral grey frame (a wan model has no text-to-video mode)" in err
    assert "Warning: shot c: starts from a neutral grey frame" in err
    assert "Warning: shot b:" not in err and "Warning: shot d:" not in err  # continues a; d has a reference
    code, _, err = run_cli("validate", "--strict", str(path))
    assert code == 2 and "shot a: starts from a neutral grey frame" in err and "shot c:" in err
    code, out, _ = run_cli("plan", str(path), "--json")
    import json

    starts = {r["id"]: r["start"]["kind"] for r in json.loads(out)}
    assert starts == {"a": "neutral", "b": "previous", "c": "neutral", "d": "reference"}


@pytest.mark.parametrize("command", ["status demo", "projects", "export demo"])
def test_read_commands_create_no_database_or_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STORYREEL_HOME", raising=False)
    monkeypatch.delenv("STORYREEL_DATABASE_URL", raising=False)
    code, out, err = run_cli(*command.split())
    assert code in (0, 2) and "Traceback" not in out + err
    assert list(tmp_path.iterdir()) == []  # no ./projects, no storyreel.db
    if command != "projects":
        assert "no storyreel database at" in err


def test_a_self_referencing_alias_is_refused_not_expanded(write) -> None:
    """``x: &r [*r]`` is an endless value: refused at its line, never walked."""
    _refused(write("cycle.yaml", "title: t\nx: &r [*r]\nshots:\n  - {id: a, prompt: x}\n"), "refers to the block it is in", 2)
    _refused(write("deep.yaml", "title: t\nx: &r {a: [1, {b: *r}]}\nshots:\n  - {id: a, prompt: x}\n"), "refers to the block it is in", 2)


@pytest.mark.parametrize("suffix", [".fountain", ".csv"])
def test_a_sidecar_character_id_that_is_not_a_word(write, suffix: str) -> None:
    body = "INT. A - DAY\n\nBob walks.\n" if suffix == ".fountain" else "scene,shot,description\n1,s1,a walk\n"
    board = write(f"film{suffix}", body)
    write(f"film{suffix}.yaml", "title: t\ncharacters:\n  1: {description: x}\n")
    code, err = _check("validate", str(board))
    assert code == 2 and err.startswith(f"Error: {board}.yaml:3:"), err
    assert "character id 1 must be a word" in err and "unknown metric" not in err


def test_error_dense_storyboards_are_refused_in_linear_time(tmp_path: Path) -> None:
    """Every row wrong twice (a bad duration, a missing reference): the problems are found in
    one linear pass and the first 200 listed with a count of the rest (in CPU time, so a busy
    machine does not make the bound fail)."""
    path = tmp_path / "dense.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["scene", "shot", "description", "duration", "reference"])
        for i in range(8000):
            writer.writerow(["main", f"s{i}", "a red circle moves right", "-1", f"missing{i}.png"])
    start = time.process_time()
    code, out, err = run_cli("validate", str(path))
    seconds = time.process_time() - start
    assert code == 2 and "Traceback" not in err
    assert err.count("\n") <= 205 and "more problems (fix these first)" in err
    assert seconds < BOUND, f"{seconds:.2f} s of CPU"


def test_a_double_bom_and_binary_values_are_refused(write) -> None:
    _refused(write("bom.yaml", "\ufeff\ufefftitle: t\nshots:\n  - {id: a, prompt: x}\n".encode()), "two byte-order marks", 1)
    _refused(write("bin.yaml", "title: t\nshots:\n  - {id: a, prompt: !!binary aGVsbG8=}\n"), "!!binary value is not text", 3)
    assert _check("validate", str(write("one.yaml", "\ufefftitle: t\nshots:\n  - {id: a, prompt: a red circle moves right}\n".encode())))[0] == 0


def _dense_yaml(size: int = 1_000_000) -> str:
    """About ``size`` bytes of YAML with three errors in every shot (a bad duration, a missing
    reference, an unknown key)."""
    head = "title: t\nshots:\n"
    row = "  - {{id: s{0:05d}, prompt: a red circle moves right, duration: -1, reference: missing{0}.png, colour: red}}\n"
    count = (size - len(head)) // len(row.format(0))
    return head + "".join(row.format(i) for i in range(count))


@pytest.mark.parametrize("case", ["cyclic alias", "int sidecar key", "error-dense 1 MB YAML", "error-dense CSV"])
def test_hostile_files_exit_2_within_2_s_as_whole_processes(write, tmp_path: Path, case: str) -> None:
    """`storyreel validate` as the user runs it — a new process, imports included — refuses each
    within 2 s of CPU time (the child's own, so a busy machine does not make it fail)."""
    import resource
    import subprocess
    import sys

    if case == "cyclic alias":
        board = write("cycle.yaml", "title: t\nx: &r [*r]\nshots:\n  - {id: a, prompt: x}\n")
    elif case == "int sidecar key":
        board = write("film.fountain", "INT. A - DAY\n\nBob walks.\n")
        write("film.fountain.yaml", "title: t\ncharacters:\n  1: {description: x}\n")
    elif case == "error-dense 1 MB YAML":
        board = write("dense.yaml", _dense_yaml())
    else:
        board = tmp_path / "dense.csv"
        board.write_text("scene,shot,description,duration,reference\n" + "".join(f"main,s{i},a red circle moves right,-1,missing{i}.png\n" for i in range(8000)))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, "-m", "flows.cli", "validate", str(board)], cwd=Path(__file__).parent.parent,
                          capture_output=True, text=True, timeout=60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert done.returncode == 2 and "Traceback" not in done.stderr and done.stderr.startswith("Error: "), done.stderr[-2000:]
    assert cpu < BOUND, f"{case}: {cpu:.2f} s of CPU"
