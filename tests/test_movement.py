"""Motion at a join is judged only where the prompts describe the same movement."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shots.movement import movements, same_movement
from tests.conftest import run_cli


@pytest.mark.parametrize(
    ("before", "after", "same"),
    [
        ("a red circle moves right on a black background", "a red circle moves right on a yellow background", True),
        ("a red circle moves right", "it keeps going", True),
        ("a red circle moves right", "the circle moves on", True),
        ("Maya walks along the quay", "Maya still walks, slower now", True),
        ("a red circle moves right on a black background", "a red circle grows on a black background", False),
        ("a red circle and a blue square meet", "a red circle and a blue square move up", False),
        ("a red circle moves right", "a red circle moves left", False),
        ("Maya walks along the quay", "Maya stops and sits on a bench", False),
        ("The harbour at dawn", "Gulls over the water", False),  # no movement said: nothing to judge against
    ],
)
def test_the_same_movement_rule(before: str, after: str, same: bool) -> None:
    assert same_movement(before, after) is same


def test_movements_read_verb_and_direction() -> None:
    assert movements("a red circle moves right, then a square falls down") == {("move", "right"), ("fall", "down")}


BOARD = """\
title: Motion
settings: {{model: {model}, width: 32, height: 32, fps: 16, steps: 2, seed: 1, max_takes: 1,
           thresholds: {{prompt: null, color_drift: null, boundary: null, identity: null, temporal: null, flicker: null}}}}
scenes:
  - id: one
    shots:
      - {{id: a, prompt: a red circle moves right, duration: 1}}
      - {{id: b, prompt: a red circle keeps moving right, duration: 1}}
      - {{id: c, prompt: a red circle grows, duration: 1}}
      - {{id: d, prompt: a red circle shrinks, duration: 1, thresholds: {{motion: 0.5}}}}
"""


@pytest.mark.slow
def test_motion_is_recorded_unjudged_where_the_prompts_change_the_movement(prefect_harness, tmp_path: Path, tiny_models) -> None:
    board = tmp_path / "film" / "storyboard.yaml"
    board.parent.mkdir()
    board.write_text(BOARD.format(model=tiny_models["wan"]))
    home = tmp_path / "home"
    code, out, err = run_cli("render", str(board), "--home", str(home), "--no-review", "--json")
    rows = {r["id"]: r for r in json.loads(run_cli("status", "film", "--home", str(home), "--json")[1])}
    motion = {k: rows[k]["scores"].get("motion") for k in "abcd"}
    assert motion["a"] is None  # a cut: no join
    assert motion["b"]["threshold"] == 0.5 and motion["b"]["passed"] is not None  # the movement goes on: judged
    assert motion["c"]["threshold"] is None and motion["c"]["passed"] is None  # moves, then grows: recorded only
    assert motion["d"]["threshold"] == 0.5  # the shot's own threshold stands
