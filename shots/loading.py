"""`load_storyboard`: one entry point for every storyboard format."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from shots.csv_format import csv_cast, parse_csv
from shots.errors import StoryboardError
from shots.families import spec_for_model
from shots.fountain import parse_fountain
from shots.models import Storyboard
from shots.parsing import Locator, build_storyboard, collector_paused, load_yaml, read_text
from shots.yaml_format import parse_yaml

YAML_SUFFIXES = (".yaml", ".yml")
FORMATS = {".yaml": "yaml", ".yml": "yaml", ".fountain": "fountain", ".spmd": "fountain", ".csv": "csv"}
SIDECAR_KEYS = ("title", "settings", "style", "characters", "scenes")
NATIVE_SECONDS = 5.0
"""A Wan clip as trained (81 frames at 16 fps): the longest content-timed shot of a family that
sets no limit of its own."""


def load_storyboard(path: str | Path) -> Storyboard:
    """Parse and validate a storyboard file of any supported format (see `_load`); the cycle
    collector is paused meanwhile (`collector_paused`)."""
    with collector_paused():
        return _load(Path(path))


def _load(path: Path) -> Storyboard:
    """Parse and validate a storyboard file.

    Fountain and CSV files may have a sidecar ``<file>.yaml`` next to them giving ``title``,
    ``settings``, ``style`` and ``characters``; those override what the screenplay implies (a
    character's fields one by one: a sidecar may give a reference and keep the description the
    screenplay gave).

    Raises:
        StoryboardError: With file, line and what is allowed.
    """
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise StoryboardError(
            f"unknown storyboard format {path.suffix or '(no suffix)'!r}; "
            "use .yaml/.yml, .fountain or .csv",
            file=str(path),
        )
    text = read_text(path)
    base_dir = path.parent
    if kind == "yaml":
        return parse_yaml(text, str(path), base_dir)
    sidecar_path = path.with_name(path.name + ".yaml")
    sidecar, sidecar_lines = read_sidecar(sidecar_path)
    given = sidecar.get("characters") if isinstance(sidecar.get("characters"), dict) else {}
    if kind == "fountain":
        raw, locator = parse_fountain(text, known_characters=given, file=str(path), seconds=shot_seconds(sidecar.get("settings")))
    else:
        raw, locator = parse_csv(text, str(path))
        raw["characters"] = {
            cid: {"description": cid.replace("_", " "), "origin": {"file": str(path), "line": line, "how": "name only"}}
            for cid, line in raw.pop("_csv_characters").items()
        }
    characters = dict(raw.get("characters", {}))
    for cid, character in given.items():
        if not isinstance(character, dict):
            characters[cid] = character  # validation says what is wrong with it
            continue
        merged = {**characters.get(cid, {}), **character}
        if "description" in character and "origin" not in character:  # a breakdown's origins stand
            merged["origin"] = {"file": str(sidecar_path), "line": sidecar_lines.get(("characters", cid, "description")), "how": "sidecar"}
        if isinstance(character.get("looks"), list):
            merged["looks"] = [
                {"origin": {"file": str(sidecar_path), "line": sidecar_lines.get(("characters", cid, "looks", i)), "how": "sidecar"}, **look}
                if isinstance(look, dict) and "origin" not in look else look
                for i, look in enumerate(character["looks"])
            ]
            _forget_scene_looks(raw, cid, merged["looks"])
        characters[cid] = merged
    if kind == "csv":
        for cid, character in characters.items():
            if isinstance(character, dict) and "names" not in character:
                character["names"] = [str(cid).replace("_", " ")]
        csv_cast(raw, characters)
    raw["characters"] = characters
    if "characters" in sidecar and not isinstance(sidecar["characters"], dict):
        raw["characters"] = sidecar["characters"]  # not a mapping: validation says so
    for key in ("title", "settings", "style"):
        if key in sidecar:
            raw[key] = sidecar[key]
    if "scenes" in sidecar:  # a breakdown (`storyreel breakdown`): its scenes and shots replace the script's
        raw["scenes"] = sidecar["scenes"]
        locator = Locator()
        locator.lines.update(sidecar_lines)
        return build_storyboard(raw, locator, str(sidecar_path), base_dir)
    return build_storyboard(raw, locator, str(path), base_dir)


def _forget_scene_looks(raw: dict[str, Any], cid: str, looks: list[Any]) -> None:
    """A sidecar's looks replace the screenplay's: scenes keep only choices of looks it has."""
    keys = {"base"} | {look.get("named") or look.get("from") for look in looks if isinstance(look, dict)}
    for scene in raw.get("scenes", []):
        chosen = scene.get("looks") if isinstance(scene, dict) else None
        if isinstance(chosen, dict) and chosen.get(cid) not in keys:
            chosen.pop(cid, None)


def shot_seconds(settings: Any) -> tuple[float, float]:
    """The shortest and longest shot a storyboard's model family renders at its frame rate
    (at most `NATIVE_SECONDS` where the family sets no limit of its own): the range a
    screenplay's content-timed shots stay in."""
    given = settings if isinstance(settings, dict) else {}
    model = given.get("model") if isinstance(given.get("model"), str) else "tiny"
    spec = spec_for_model(model)
    fps = given.get("fps") if isinstance(given.get("fps"), int) and not isinstance(given.get("fps"), bool) and given["fps"] > 0 else spec.default_fps
    longest = spec.max_frames / fps if spec.max_frames else NATIVE_SECONDS
    return spec.min_frames / fps, max(spec.min_frames / fps, math.floor(longest * 2) / 2)


def read_sidecar(path: Path) -> tuple[dict[str, Any], dict[Any, int]]:
    try:
        if not path.exists():
            return {}, {}
    except OSError:  # a storyboard name too long for a sidecar beside it has none
        return {}, {}
    text = read_text(path)
    try:
        data, lines = load_yaml(text)
    except StoryboardError as exc:
        raise StoryboardError(exc.message, file=str(path), line=exc.line) from None
    if not isinstance(data, dict):
        raise StoryboardError("the sidecar must be a mapping", file=str(path), line=1)
    for key in data:
        if key not in SIDECAR_KEYS:
            raise StoryboardError(
                f"unknown key {key!r}; a sidecar may hold {', '.join(SIDECAR_KEYS)}",
                file=str(path),
                line=lines.get((key,)),
            )
    characters = data.get("characters")
    if isinstance(characters, dict):
        for cid in characters:
            if not isinstance(cid, str):
                raise StoryboardError(
                    f"character id {cid!r} must be a word (letters, digits, '_', '.', '-'), not a number or true/false",
                    file=str(path),
                    line=lines.get(("characters", str(cid))) or lines.get(("characters",)),
                )
    return data, lines
