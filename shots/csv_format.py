"""CSV shot lists: `scene,shot,description,camera,duration,characters` (+ optional columns).

Rows of one scene must be together. ``characters`` holds ids separated by ``;`` or ``|``;
``transition`` is ``cut`` or ``crossfade 0.5``. Columns beyond the required ones are optional.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from shots.errors import StoryboardError
from shots.parsing import Locator

REQUIRED = ("shot", "description")
OPTIONAL = (
    "scene",
    "camera",
    "duration",
    "characters",
    "continuity",
    "transition",
    "seed",
    "negative_prompt",
    "steps",
    "reference",
)
_INT_COLUMNS = ("seed", "steps")


def parse_csv(text: str, file: str) -> tuple[dict[str, Any], Locator]:
    """A raw storyboard dict (YAML shape) and a locator for a CSV shot list."""
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise StoryboardError(f"not valid CSV: {exc}", file=file) from None
    if not rows:
        raise StoryboardError("the shot list is empty", file=file, line=1)
    header = [h.strip().lower() for h in rows[0]]
    allowed = REQUIRED + OPTIONAL
    for name in header:
        if name not in allowed:
            raise StoryboardError(
                f"unknown column {name!r}; allowed columns: {', '.join(allowed)}", file=file, line=1
            )
    for name in REQUIRED:
        if name not in header:
            raise StoryboardError(f"missing column {name!r}", file=file, line=1)
    if len(set(header)) != len(header):
        raise StoryboardError("a column name appears twice", file=file, line=1)

    locator = Locator()
    scenes: list[dict[str, Any]] = []
    closed: dict[str, int] = {}
    characters: set[str] = set()
    # csv.reader folds quoted newlines: track physical line numbers through the reader.
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader)
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise StoryboardError(
                f"has {len(row)} cells but the header has {len(header)}", file=file, line=line
            )
        cells = {k: v.strip() for k, v in zip(header, row)}
        scene_id = cells.get("scene") or "main"
        if not scenes or scenes[-1]["id"] != scene_id:
            if scene_id in closed:
                raise StoryboardError(
                    f"scene {scene_id!r} started at line {closed[scene_id]} and appears again "
                    "after another scene; keep a scene's rows together",
                    file=file,
                    line=line,
                )
            closed[scene_id] = line
            locator.lines[("scenes", len(scenes))] = line
            scenes.append({"id": scene_id, "shots": []})
        shot = _shot(cells, file, line)
        characters.update(shot.get("characters", ()))
        locator.lines[("scenes", len(scenes) - 1, "shots", len(scenes[-1]["shots"]))] = line
        scenes[-1]["shots"].append(shot)
    if not scenes:
        raise StoryboardError("the shot list has a header but no shots", file=file, line=1)
    return {"title": "Untitled", "scenes": scenes, "_csv_characters": sorted(characters)}, locator


def _shot(cells: dict[str, str], file: str, line: int) -> dict[str, Any]:
    shot: dict[str, Any] = {"id": cells["shot"], "prompt": cells["description"]}
    for key in ("camera", "continuity", "negative_prompt", "reference"):
        if cells.get(key):
            shot[key] = cells[key]
    if cells.get("duration"):
        shot["duration"] = cells["duration"]
    for key in _INT_COLUMNS:
        if cells.get(key):
            shot[key] = cells[key]
    if cells.get("characters"):
        shot["characters"] = [c.strip() for c in re.split(r"[;|]", cells["characters"]) if c.strip()]
    transition = cells.get("transition", "")
    if transition:
        match = re.fullmatch(r"(?:crossfade|dissolve)[\s:=]*([0-9.]+)\s*s?", transition, re.I)
        if transition.lower() == "cut":
            shot["transition"] = "cut"
        elif match:
            shot["transition"] = {"crossfade": match.group(1)}
        else:
            raise StoryboardError(
                f"transition {transition!r} is not allowed; use 'cut' or 'crossfade SECONDS'",
                file=file,
                line=line,
                field="transition",
            )
    return shot
