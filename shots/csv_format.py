"""CSV shot lists: `scene,shot,description,camera,duration,characters` (+ optional columns).

Rows of one scene must be together. ``characters`` holds ids separated by ``;`` or ``|``; a
description that names a character (by its ``names``, from the sidecar, else its id) or refers
to one by pronoun adds it too;
``transition`` is ``cut`` or ``crossfade 0.5``. Columns beyond the required ones are optional.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from typing import Any

from shots.cast import NameIndex, Said, Seen, gender, scene_cast
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
    characters: dict[str, int] = {}  # id → the first line listing it
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
        for cid in shot.get("characters", ()):
            characters.setdefault(cid, line)
        locator.lines[("scenes", len(scenes) - 1, "shots", len(scenes[-1]["shots"]))] = line
        scenes[-1]["shots"].append(shot)
    if not scenes:
        raise StoryboardError("the shot list has a header but no shots", file=file, line=1)
    return {"title": "Untitled", "scenes": scenes, "_csv_characters": characters}, locator


def csv_cast(raw: dict[str, Any], characters: Mapping[str, Any]) -> None:
    """Add to each shot of a parsed shot list the characters its description names or refers to
    by pronoun (`shots.cast.scene_cast`), after those its ``characters`` column lists."""
    names: dict[str, tuple[str, ...]] = {}
    genders: dict[str, str | None] = {}
    for cid, character in characters.items():
        if isinstance(cid, str) and isinstance(character, Mapping):
            given = character.get("names")
            names[cid] = tuple(n for n in given if isinstance(n, str)) if isinstance(given, (list, tuple)) else ()
            genders[cid] = gender(character["description"]) if isinstance(character.get("description"), str) else None
    index = NameIndex(names)
    for scene in raw["scenes"]:
        events: list[Said | Seen] = []
        for j, shot in enumerate(scene["shots"]):
            events += [Seen(cid, j) for cid in shot.get("characters", ())]
            events.append(Said(j, shot["prompt"]))
        for shot, cast in zip(scene["shots"], scene_cast(events, index, genders, len(scene["shots"]))):
            if cast:
                shot["characters"] = cast


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
