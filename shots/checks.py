"""Rules that span a whole storyboard, reported with the location of the offending field."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shots.families import spec_for_model
from shots.models import Crossfade, Storyboard

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a storyboard: where (a path into the document) and what."""

    loc: Loc
    message: str


def resolve_asset(base_dir: Path, relative: str) -> Path:
    """Resolve a path written in a storyboard; it must stay inside the storyboard's folder.

    Raises:
        ValueError: The path escapes ``base_dir`` (absolute, ``..``, or through a link).
    """
    base = base_dir.resolve()
    target = (base / relative).resolve()
    if not target.is_relative_to(base):
        raise ValueError(
            f"{relative!r} is outside the storyboard's folder {str(base)!r}; "
            "put the file next to the storyboard or in a folder below it"
        )
    return target


def _check_asset(base_dir: Path, relative: str, loc: Loc, what: str) -> list[Problem]:
    try:
        path = resolve_asset(base_dir, relative)
    except ValueError as exc:
        return [Problem(loc, str(exc))]
    if not path.is_file():
        return [Problem(loc, f"{what} {relative!r} does not exist (looked for {str(path)!r})")]
    return []


def check_storyboard(board: Storyboard, base_dir: Path) -> list[Problem]:
    """Every cross-field problem of ``board``; an empty list means it can be rendered."""
    problems: list[Problem] = []
    seen_shots: dict[str, Loc] = {}
    seen_scenes: set[str] = set()
    for cid, character in board.characters.items():
        if character.reference:
            problems += _check_asset(
                base_dir, character.reference, ("characters", cid, "reference"), "reference image"
            )
    spec = spec_for_model(board.settings.model)
    for field in ("width", "height"):
        value = getattr(board.settings, field)
        if value is not None and value % spec.size_multiple:
            problems.append(
                Problem(
                    ("settings", field),
                    f"{value} is not allowed for a {spec.name} model: "
                    f"use a multiple of {spec.size_multiple}",
                )
            )
    if board.settings.audio:
        problems += _check_asset(base_dir, board.settings.audio, ("settings", "audio"), "audio file")

    flat = board.shot_list()
    for index, (scene, shot) in enumerate(flat):
        si = board.scenes.index(scene)
        sj = scene.shots.index(shot)
        loc: Loc = ("scenes", si, "shots", sj)
        if sj == 0:
            if scene.id in seen_scenes:
                problems.append(Problem(("scenes", si, "id"), f"scene id {scene.id!r} is used twice"))
            seen_scenes.add(scene.id)
        if shot.id in seen_shots:
            problems.append(
                Problem(loc + ("id",), f"shot id {shot.id!r} is used twice; shot ids must be unique")
            )
        seen_shots[shot.id] = loc
        for ci, cid in enumerate(shot.characters):
            if cid not in board.characters:
                known = ", ".join(sorted(board.characters)) or "none defined"
                problems.append(
                    Problem(
                        loc + ("characters", ci),
                        f"unknown character {cid!r}; known characters: {known}",
                    )
                )
        if shot.reference:
            problems += _check_asset(base_dir, shot.reference, loc + ("reference",), "reference image")
        if index == 0 and shot.continuity == "continue":
            problems.append(
                Problem(
                    loc + ("continuity",),
                    "the first shot has no previous shot to continue; use 'cut'",
                )
            )
        if isinstance(shot.transition, Crossfade):
            if index == len(flat) - 1:
                problems.append(
                    Problem(
                        loc + ("transition",),
                        "the last shot has no next shot to crossfade into; use 'cut'",
                    )
                )
            else:
                longest = min(shot.duration, flat[index + 1][1].duration)
                if shot.transition.crossfade >= longest:
                    problems.append(
                        Problem(
                            loc + ("transition", "crossfade"),
                            f"a {shot.transition.crossfade} s crossfade must be shorter than both "
                            f"shots it joins (shortest is {longest} s)",
                        )
                    )
    return problems
