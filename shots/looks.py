"""Which look of a character a scene shows.

A character has a base look (its ``description`` and ``reference``) and later *looks*
(`shots.models.Look`). In a scene the look is, in this order: the one the scene names
(``Scene.looks``: the parser sets it for a heading's year, ``(PRESENT)``, or a cue such as
``YOUNG EDWARD``); else the last look whose ``from`` scene is at or before this one (looks
with ``named`` apply only where named, a ``flashback`` look only in its own scene); else the
base look.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shots.models import Scene, Shot, Storyboard

PRESENT = 9999
"""The period of a heading that says ``PRESENT``: after every year."""
_YEAR = re.compile(r"(?<![0-9])(1[5-9][0-9]{2}|20[0-9]{2})(?![0-9])")


@dataclass(frozen=True)
class LookInScene:
    """A character as a scene shows it: ``key`` is ``base`` or the look's `Look.key`."""

    key: str
    description: str
    reference: str | None
    around: tuple[str, str] | None = None  # `shots.models.Origin.around` of its introduction


def period_of(heading: str | None) -> int | None:
    """The year a scene heading names (``INT. BEDROOM - NIGHT (1973)``, ``- 1987``), `PRESENT`
    for ``(PRESENT)`` / ``PRESENT DAY``, else None."""
    if not heading:
        return None
    upper = heading.upper()
    if "PRESENT" in upper:
        return PRESENT
    years = _YEAR.findall(heading)
    return int(years[-1]) if years else None


def look_in(board: Storyboard, scene: Scene, position: int, cid: str) -> LookInScene:
    """The look of character ``cid`` in ``scene``, the ``position``-th scene of ``board``."""
    character = board.characters[cid]
    chosen = None
    named = scene.looks.get(cid)
    if named is not None:
        chosen = next((look for look in character.looks if look.key == named), None)
    if chosen is None and named != "base":
        order = board.scene_positions
        for look in character.looks:
            at = order.get(look.from_ or "", len(order))
            if look.named is None and look.from_ is not None and (at == position if look.flashback else at <= position):
                chosen = look
    if chosen is None:
        return LookInScene("base", character.description, character.reference, character.origin.around if character.origin else None)
    around = chosen.origin.around if chosen.origin else None
    return LookInScene(chosen.key, chosen.description, chosen.reference, around)  # a child is not the adult's picture


def shot_looks(board: Storyboard, shot: Shot) -> dict[str, LookInScene]:
    """The look of each character of a shot of ``board`` (KeyError for a shot it lacks)."""
    position, scene = board.scene_of(shot.id)
    return {cid: look_in(board, scene, position, cid) for cid in shot.characters}


def identity_key(character: str, look: str = "base") -> str:
    """How identity anchors name a character in a look: ``will`` for its base look,
    ``will@sc12`` for a later one — a child and the adult are judged against different anchors."""
    return character if look == "base" else f"{character}@{look}"


def split_identity(key: str) -> tuple[str, str]:
    """``will@sc12`` → ``("will", "sc12")``; ``will`` → ``("will", "base")``."""
    character, _, look = key.partition("@")
    return character, look or "base"


def identities(characters: tuple[str, ...], looks: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """Each present character's identity key in a planned shot (`PlannedShot.looks`)."""
    chosen = dict(looks)
    return {cid: identity_key(cid, chosen.get(cid, "base")) for cid in characters}


def look_by_key(board: Storyboard, key: str) -> LookInScene:
    """The description and reference behind an identity key (KeyError for an unknown one)."""
    cid, look = split_identity(key)
    character = board.characters[cid]
    if look == "base":
        return LookInScene("base", character.description, character.reference)
    found = next(item for item in character.looks if item.key == look)
    return LookInScene(found.key, found.description, found.reference)
