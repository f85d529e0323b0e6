"""`storyreel validate` and `storyreel plan` through the real entry point."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import DEMO, ROOT, run_cli


def test_validate_ok() -> None:
    code, out, err = run_cli("validate", str(DEMO))
    assert code == 0, err
    assert "4 shots in 2 scenes" in out


def test_plan_json_fields() -> None:
    code, out, _ = run_cli("plan", str(DEMO), "--json")
    assert code == 0
    rows = json.loads(out)
    assert [r["id"] for r in rows] == ["s01", "s02", "s03", "s04"]
    for key in ("id", "scene", "prompt", "negative_prompt", "frames", "fps", "continuity", "conditioned_on", "characters"):
        assert all(key in r for r in rows), key
    assert rows[1]["conditioned_on"] == "s01" and rows[2]["conditioned_on"] is None
    assert rows[2]["reference"] == "keyframes/meeting.png"
    assert rows[0]["transition"] == {"crossfade": 0.5}
    assert all((r["frames"] - 1) % 4 == 0 for r in rows)
    assert [(r["steps"], r["guidance"]) for r in rows] == [(20, 3.0)] * 3 + [(20, 5.0)]  # the demo's


def test_plan_shows_a_shots_own_steps_and_guidance_over_the_settings(write) -> None:
    board = write(
        "board.yaml",
        "title: t\nsettings: {steps: 20, guidance: 3}\nscenes:\n  - id: a\n    shots:\n"
        "      - {id: s1, prompt: a red circle moves right on a black background}\n"
        "      - {id: s2, prompt: a red circle grows on a black background, guidance: 1.5, steps: 8}\n",
    )
    code, out, err = run_cli("plan", str(board), "--json")
    assert code == 0, err
    assert [(r["id"], r["steps"], r["guidance"]) for r in json.loads(out)] == [("s1", 20, 3.0), ("s2", 8, 1.5)]


def test_plan_table_lists_every_shot() -> None:
    code, out, _ = run_cli("plan", str(DEMO))
    assert code == 0
    for shot in ("s01", "s02", "s03", "s04"):
        assert shot in out


def test_bad_storyboard_exits_2_with_location_and_no_traceback(write) -> None:
    path = write("bad.yaml", "title: x\nshots:\n  - id: a\n    promt: hi\n")
    code, out, err = run_cli("validate", str(path))
    assert code == 2
    assert err.startswith(f"Error: {path}:3: shots.0.prompt: required and missing\n")
    assert f"{path}:4: shots.0.promt: unknown key 'promt' (did you mean 'prompt'?)" in err
    assert "Traceback" not in err + out


def test_console_script_is_installed_and_help_is_fast() -> None:
    exe = ROOT / ".venv" / "bin" / "storyreel"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "flows.cli"]
    proc = subprocess.run([*cmd, "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "plan" in proc.stdout
    probe = subprocess.run(
        [sys.executable, "-c", "import sys, flows.cli; print('torch' in sys.modules, 'prefect' in sys.modules)"],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert probe.stdout.strip() == "False False"  # heavy imports stay lazy
    missing = subprocess.run([*cmd, "plan", "nope.yaml"], capture_output=True, text=True)
    assert missing.returncode == 2 and "file not found" in missing.stderr and "Traceback" not in missing.stderr
