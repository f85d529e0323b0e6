"""A screenplay's breakdown as an editable sidecar: what `storyreel breakdown` writes.

The sidecar (``<screenplay>.yaml``) holds the characters with their descriptions, later looks
and where each came from, and every scene with its shots — prompt, characters, camera,
duration, transition, dialogue. A sidecar with ``scenes`` replaces the screenplay's own
breakdown (`shots.loading.load_storyboard`), so a person corrects it once and every later
`plan` and `render` uses the correction; running `breakdown` again starts over from the script.
"""

from __future__ import annotations

from typing import Any

import yaml

from shots.models import Character, Crossfade, Storyboard

HEADER = (
    "# The breakdown of {script}: characters (descriptions, later looks) and every scene's shots.\n"
    "# Edit it and keep it beside the screenplay: plan and render read it instead of breaking the script down\n"
    "# again. Delete `scenes` to go back to the script's own breakdown; run `storyreel breakdown` to start over.\n"
)


def _character(character: Character) -> dict[str, Any]:
    out: dict[str, Any] = {"description": character.description}
    if character.names:
        out["names"] = list(character.names)
    if character.reference:
        out["reference"] = character.reference
    if character.origin is not None:
        out["origin"] = character.origin.model_dump(exclude_none=True, mode="json")
    if character.loras:
        out["loras"] = [lora.model_dump(exclude_none=True) for lora in character.loras]
    if character.looks:
        out["looks"] = [look.model_dump(by_alias=True, exclude_none=True, mode="json") for look in character.looks]
    return out


def breakdown(board: Storyboard) -> dict[str, Any]:
    """The sidecar's content: ``title``, ``characters`` and ``scenes`` of a storyboard, each
    shot with its source ``line``."""
    scenes = []
    for scene in board.scenes:
        shots = []
        for shot in scene.shots:
            item: dict[str, Any] = {"id": shot.id, "prompt": shot.prompt, "characters": list(shot.characters),
                                    "duration": shot.duration}
            if shot.camera:
                item["camera"] = shot.camera
            if shot.continuity:
                item["continuity"] = shot.continuity
            if isinstance(shot.transition, Crossfade):
                item["transition"] = {"crossfade": shot.transition.crossfade}
            if shot.dialogue:
                item["dialogue"] = list(shot.dialogue)
            if shot.line:
                item["line"] = shot.line
            shots.append(item)
        entry: dict[str, Any] = {"id": scene.id, "heading": scene.heading, "shots": shots}
        if scene.line:
            entry["line"] = scene.line
        if scene.looks:
            entry["looks"] = dict(scene.looks)
        scenes.append(entry)
    return {
        "title": board.title,
        "characters": {cid: _character(c) for cid, c in board.characters.items()},
        "scenes": scenes,
    }


def sidecar_text(data: dict[str, Any], script: str) -> str:
    """The breakdown as YAML, under a header that says how to use it."""
    return HEADER.format(script=script) + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)
