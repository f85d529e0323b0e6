"""`load_storyboard`: one entry point for every storyboard format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shots.csv_format import parse_csv
from shots.errors import StoryboardError
from shots.fountain import parse_fountain
from shots.models import Storyboard
from shots.parsing import build_storyboard, load_yaml, read_text
from shots.yaml_format import parse_yaml

YAML_SUFFIXES = (".yaml", ".yml")
FORMATS = {".yaml": "yaml", ".yml": "yaml", ".fountain": "fountain", ".spmd": "fountain", ".csv": "csv"}
SIDECAR_KEYS = ("title", "settings", "style", "characters")


def load_storyboard(path: str | Path) -> Storyboard:
    """Parse and validate a storyboard file of any supported format.

    Fountain and CSV files may have a sidecar ``<file>.yaml`` next to them giving ``title``,
    ``settings``, ``style`` and ``characters``; those override what the screenplay implies.

    Raises:
        StoryboardError: With file, line and what is allowed.
    """
    path = Path(path)
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
    sidecar = _read_sidecar(path.with_name(path.name + ".yaml"))
    if kind == "fountain":
        raw, locator = parse_fountain(text, known_characters=sidecar.get("characters", {}))
    else:
        raw, locator = parse_csv(text, str(path))
        implied = raw.pop("_csv_characters")
        if "characters" not in sidecar:
            # Without definitions, a CSV character is described by its own name.
            raw["characters"] = {cid: {"description": cid.replace("_", " ")} for cid in implied}
    if "characters" in sidecar:
        raw["characters"] = {**raw.get("characters", {}), **sidecar["characters"]}
        used = {c for scene in raw["scenes"] for shot in scene["shots"] for c in shot.get("characters", ())}
        raw["characters"] = {k: v for k, v in raw["characters"].items() if k in used or k in sidecar["characters"]}
    for key in ("title", "settings", "style"):
        if key in sidecar:
            raw[key] = sidecar[key]
    return build_storyboard(raw, locator, str(path), base_dir)


def _read_sidecar(path: Path) -> dict[str, Any]:
    try:
        if not path.exists():
            return {}
    except OSError:  # a storyboard name too long for a sidecar beside it has none
        return {}
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
    return data
