"""YAML storyboards: `shots:` (one implicit scene) or `scenes: [{id, heading, shots}]`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shots.checks import Loc
from shots.errors import StoryboardError
from shots.models import Storyboard
from shots.parsing import Locator, build_storyboard, load_yaml

IMPLICIT_SCENE = "main"


def parse_yaml(text: str, file: str, base_dir: Path) -> Storyboard:
    """Parse YAML storyboard text; ``file`` is used in error messages."""
    try:
        data, lines = load_yaml(text)
    except StoryboardError as exc:
        raise StoryboardError(exc.message, file=file, line=exc.line) from None
    if data is None:
        raise StoryboardError("the storyboard is empty", file=file, line=1)
    if not isinstance(data, dict):
        raise StoryboardError(
            "a storyboard is a mapping with title, shots or scenes (and optionally settings, "
            f"style, characters), not a {type(data).__name__}",
            file=file,
            line=1,
        )
    locator = Locator(lines)
    raw: dict[Any, Any] = dict(data)
    if isinstance(raw.get("characters"), dict):
        raw["characters"] = {
            cid: {"origin": {"file": file, "line": lines.get(("characters", cid, "description")), "how": "storyboard"}, **c}
            if isinstance(c, dict) and "description" in c else c
            for cid, c in raw["characters"].items()
        }
    if "shots" in raw and "scenes" in raw:
        raise StoryboardError(
            "give either 'shots' or 'scenes', not both", file=file, line=lines.get(("scenes",))
        )
    if "scenes" not in raw:
        if "shots" not in raw:
            raise StoryboardError(
                "no shots: add a 'shots' list (or 'scenes' with shots)", file=file, line=1
            )
        raw["scenes"] = [{"id": IMPLICIT_SCENE, "shots": raw.pop("shots")}]
        locator.rename = _flat_loc
    return build_storyboard(raw, locator, file, base_dir)


def _flat_loc(loc: Loc) -> Loc:
    """``scenes.0.shots.N…`` (validated shape) → ``shots.N…`` (what the user wrote)."""
    if loc[:3] == ("scenes", 0, "shots"):
        return ("shots",) + loc[3:]
    if loc[:1] == ("scenes",):
        return ("shots",) + loc[2:]
    return loc
