"""A screenplay broken down by a local language model: what it is asked, and which answers count.

With ``settings.breakdown_model`` (any transformers chat model folder) each scene of a Fountain
screenplay is given to the model with its source lines numbered and the script's characters
listed; the model answers the scene's shot list as JSON (`SceneAnswer`). A second ask gives it
every character's introduction lines and takes back a character bible (`BibleAnswer`: a base
look and later looks, each with the scene it starts). An answer counts only when it is valid
JSON of that shape *and* faithful (`check_scene`, `check_bible`): every character is one of the
script's, every shot points at a line of its scene, every description is a noun phrase, every
look starts at a scene of the script, durations are in the family's range. Anything else
falls back to the rule-based breakdown of that scene (or those characters), and `plan` says
which was used per scene and why. This module is text only: the model runs in
`generation.expand`, the cache and the wiring live in `production.lm_breakdown`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shots.grammar import is_noun_phrase

BREAKDOWN_VERSION = 1
"""Changes whenever the instructions or the asks change, so cached answers to the old ones are
not reused."""

SCENE_INSTRUCTION = (
    "You break one scene of a screenplay into shots for a video model. Answer with JSON only, of the form "
    '{"shots": [{"line": 12, "prompt": "...", "characters": ["id"], "camera": "close-up", "duration": 3.5}]}. '
    "Each shot is one camera set-up: line is the number of the script line it shows; prompt says what is seen, "
    "in the present tense, naming no one (describe people by their look); characters are ids from the list "
    "you are given; camera and duration (seconds) are optional. Use no character that is not listed."
)
BIBLE_INSTRUCTION = (
    "You write the character bible of a screenplay for a video model. For each character id you are given, "
    "with the lines that introduce it, answer its look as a noun phrase (\"a tall woman in a green raincoat\") "
    "and its later looks, each with the scene id it starts at. Answer with JSON only, of the form "
    '{"characters": {"id": {"description": "...", "looks": [{"from": "sc12", "description": "..."}]}}}.'
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ShotAnswer(_Strict):
    line: int = Field(ge=1)
    prompt: str = Field(min_length=1, max_length=2000)
    characters: list[str] = Field(default_factory=list, max_length=20)
    camera: str | None = Field(None, max_length=100)
    duration: float | None = Field(None, gt=0, le=600)


class SceneAnswer(_Strict):
    shots: list[ShotAnswer] = Field(min_length=1, max_length=200)


class LookAnswer(_Strict):
    from_: str = Field(alias="from", min_length=1, max_length=64)
    description: str = Field(min_length=1, max_length=500)


class CharacterAnswer(_Strict):
    description: str = Field(min_length=1, max_length=500)
    looks: list[LookAnswer] = Field(default_factory=list, max_length=20)


class BibleAnswer(_Strict):
    characters: dict[str, CharacterAnswer]


_Answer = TypeVar("_Answer", SceneAnswer, BibleAnswer)


def scene_messages(scene_id: str, lines: list[tuple[int, str]], characters: Mapping[str, str]) -> list[dict[str, str]]:
    """The chat for one scene: its lines numbered as in the file, and the characters by id."""
    cast = "\n".join(f"- {cid}: {description}" for cid, description in characters.items()) or "- (none)"
    script = "\n".join(f"{number}: {text}" for number, text in lines)
    return [{"role": "system", "content": SCENE_INSTRUCTION},
            {"role": "user", "content": f"Characters:\n{cast}\n\nScene {scene_id}:\n{script}"}]


def bible_messages(introductions: Mapping[str, list[tuple[str, int, str]]]) -> list[dict[str, str]]:
    """The chat for the character bible: each id with (scene, line, text) of its introductions."""
    parts = [f"{cid}:\n" + "\n".join(f"  {scene} line {line}: {text}" for scene, line, text in said) for cid, said in introductions.items()]
    return [{"role": "system", "content": BIBLE_INSTRUCTION}, {"role": "user", "content": "\n".join(parts)}]


def _json(answer: str) -> Any:
    """The JSON object of an answer (a fenced ```json block is allowed)."""
    text = answer.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    return json.loads(text)


def _why(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "the answer"
    return f"{where}: {first['msg']}"


def _parse(shape: type[_Answer], answer: str, what: str) -> tuple[_Answer | None, str | None]:
    """An answer as ``shape``, or why it is not one."""
    try:
        return shape.model_validate(_json(answer)), None
    except ValidationError as exc:  # a ValueError too: first
        return None, f"the answer is not {what} ({_why(exc)})"
    except (ValueError, TypeError):
        return None, "the answer is not JSON"


def check_scene(answer: str, lines: set[int], known: set[str], seconds: tuple[float, float]) -> tuple[SceneAnswer | None, str | None]:
    """The scene's shot list when the answer is valid and faithful, else why not.

    Args:
        lines: The scene's source lines: each shot must show one of them.
        known: The script's character ids.
        seconds: The family's shortest and longest shot.
    """
    parsed, why = _parse(SceneAnswer, answer, "a shot list")
    if parsed is None:
        return None, why
    for i, shot in enumerate(parsed.shots):
        if shot.line not in lines:
            return None, f"shot {i + 1} shows line {shot.line}, which is not in the scene ({min(lines)}–{max(lines)})"
        if unknown := [c for c in shot.characters if c not in known]:
            return None, f"shot {i + 1} has {unknown[0]!r}, who is not in the script"
        if shot.duration is not None and not seconds[0] <= shot.duration <= seconds[1]:
            return None, f"shot {i + 1} lasts {shot.duration:g} s; the model renders {seconds[0]:g}–{seconds[1]:g} s"
    return parsed, None


def check_bible(answer: str, known: set[str], scenes: set[str]) -> tuple[BibleAnswer | None, str | None]:
    """The character bible when the answer is valid and faithful, else why not."""
    parsed, why = _parse(BibleAnswer, answer, "a character bible")
    if parsed is None:
        return None, why
    for cid, character in parsed.characters.items():
        if cid not in known:
            return None, f"{cid!r} is not a character of the script"
        for text in (character.description, *(look.description for look in character.looks)):
            if not is_noun_phrase(text):
                return None, f"{cid}: {text!r} is not a noun phrase"
        for look in character.looks:
            if look.from_ not in scenes:
                return None, f"{cid}: a look starts at {look.from_!r}, which is not a scene of the script"
    return parsed, None
