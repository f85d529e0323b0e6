"""Rules that span a whole storyboard, reported with the location of the offending field.

The checks read the raw document (the dict every parser produces), not the validated model, so
that one pass reports every problem: a storyboard with a misspelt key *and* an unknown
character gets both messages at once. Values of the wrong type are left to pydantic, which
reports them; these checks skip what they cannot read.
"""

from __future__ import annotations

import errno
import math
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shots.families import FAMILIES, FamilySpec, default_t2i, spec_for_model

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a storyboard: where (a path into the document) and what."""

    loc: Loc
    message: str


class AssetFolder:
    """A storyboard's folder, resolved once, and the files a storyboard names in it.

    One per check: a storyboard naming thousands of files resolves its folder once, and each
    file with one `realpath` and one `stat`.
    """

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self._base: str | None = None

    def resolve(self, relative: str) -> Path:
        """Resolve a path written in a storyboard; it must stay inside the storyboard's folder.

        Raises:
            ValueError: The path escapes the folder (absolute, ``..``, or through a link), loops
                through links, or is a name no filesystem takes.
        """
        try:
            if self._base is None:
                self._base = os.path.realpath(self.base_dir)
            target = os.path.realpath(os.path.join(self._base, relative))
        except RuntimeError:  # Python ≤ 3.12 raises this for a loop of symbolic links
            raise ValueError(f"{relative!r} is a loop of symbolic links") from None
        except (OSError, ValueError) as exc:
            raise ValueError(f"{relative!r} cannot be used as a path: {_os_reason(exc)}") from None
        if target != self._base and not target.startswith(self._base.rstrip("/") + "/"):
            raise ValueError(
                f"{relative!r} is outside the storyboard's folder {self._base!r}; "
                "put the file next to the storyboard or in a folder below it"
            )
        return Path(target)

    def problem(self, relative: str, what: str) -> str | None:
        """Why a file named in a storyboard cannot be used (None when it is a readable file)."""
        try:
            path = self.resolve(relative)
            mode = os.stat(path).st_mode
        except ValueError as exc:
            return str(exc)
        except FileNotFoundError:
            return f"{what} {relative!r} does not exist (looked for {str(path)!r})"
        except OSError as exc:
            return f"{what} {relative!r} cannot be used as a path: {_os_reason(exc)}"
        if stat.S_ISREG(mode):
            return None
        return f"{what} {relative!r} is not a regular file ({str(path)!r})"


def resolve_asset(base_dir: Path, relative: str) -> Path:
    """Resolve a path written in a storyboard inside ``base_dir`` (see `AssetFolder.resolve`)."""
    return AssetFolder(base_dir).resolve(relative)


def asset_problem(base_dir: Path, relative: str, what: str) -> str | None:
    """Why a file named in a storyboard cannot be used (None when it is a readable file)."""
    return AssetFolder(base_dir).problem(relative, what)


def _os_reason(exc: OSError | ValueError) -> str:
    if isinstance(exc, ValueError):  # an embedded NUL
        return "a name no filesystem takes"
    if exc.errno == errno.ENAMETOOLONG:
        return "a name in it is longer than the filesystem allows (255 bytes)"
    if exc.errno == errno.ELOOP:
        return "a loop of symbolic links"
    return exc.strerror or type(exc).__name__


def model_problem(model: str, what: str = "model") -> str | None:
    """Why a model name can never load (None when it may): a local path that cannot be
    expanded or used as a path, or text that is neither ``tiny``, a path nor a hub id."""
    if model == "tiny":
        return None
    if model.startswith(("/", ".", "~")):
        try:
            Path(model).expanduser().exists()
        except RuntimeError as exc:  # ~nosuchuser
            return f"{what} {model!r} cannot be expanded: {exc}"
        except OSError as exc:
            return f"{what} {model!r} cannot be used as a path: {_os_reason(exc)}"
        return None
    parts = model.split("/")
    if len(parts) == 2 and all(p and len(p) <= 96 and all(c.isalnum() or c in "-_." for c in p) for p in parts):
        return None  # a hub id, Org/Name
    return f"{what} {model!r} is not allowed; use tiny, a diffusers folder (/path, ./path, ~/path) or a hub id Org/Name"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: Any, default: float | None = None) -> float | None:
    if value is None:
        return default
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _items(value: Any) -> list[tuple[int, Any]]:
    return list(enumerate(value)) if isinstance(value, (list, tuple)) else []


def check_storyboard(raw: Mapping[str, Any], base_dir: Path) -> list[Problem]:
    """Every cross-field problem of a raw storyboard; an empty list means it can be rendered.

    Runs in time linear in the number of shots.
    """
    folder = AssetFolder(base_dir)
    problems: list[Problem] = []
    settings = raw.get("settings") if isinstance(raw.get("settings"), Mapping) else {}
    characters = raw.get("characters") if isinstance(raw.get("characters"), Mapping) else {}
    for cid, character in characters.items():
        if isinstance(character, Mapping) and _text(character.get("reference")):
            problems += _asset(folder, character["reference"], ("characters", cid, "reference"), "reference image")
    model = settings.get("model") if isinstance(settings.get("model"), str) else "tiny"
    for field in ("model", "t2i_model", "prompt_model", "breakdown_model"):
        if _text(settings.get(field)) and (why := model_problem(settings[field], field)):
            problems.append(Problem(("settings", field), why))
    spec = spec_for_model(model)
    for field in ("width", "height"):
        value = settings.get(field)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0 and value % spec.size_multiple:
            problems.append(
                Problem(
                    ("settings", field),
                    f"{value} is not allowed for a {spec.name} model: use a multiple of {spec.size_multiple}",
                )
            )
    if _text(settings.get("audio")):
        problems += _asset(folder, settings["audio"], ("settings", "audio"), "audio file")
    problems += _loras(settings.get("loras"), ("settings", "loras"), spec)
    for cid, character in characters.items():
        if isinstance(character, Mapping):
            problems += _loras(character.get("loras"), ("characters", cid, "loras"), spec)
    if settings.get("cpu_offload") is True and settings.get("memory", "auto") not in ("auto", "model_offload"):
        problems.append(Problem(("settings", "cpu_offload"), "cpu_offload is the old name of memory: model_offload; give memory alone"))
    fps = _number(settings.get("fps")) or spec.default_fps
    context = settings.get("context_frames")
    if isinstance(context, int) and not isinstance(context, bool) and context >= 1 and (why := spec.context_problem(context)):
        problems.append(Problem(("settings", "context_frames"), why))
    k = context if isinstance(context, int) and not isinstance(context, bool) and context >= 1 else spec.default_context
    t2i = default_t2i(model, settings.get("t2i_model") if isinstance(settings.get("t2i_model"), str) else None)

    flat: list[tuple[Loc, Mapping[str, Any]]] = []
    seen_scenes: set[str] = set()
    for si, scene in _items(raw.get("scenes")):
        if not isinstance(scene, Mapping):
            continue
        scene_id = scene.get("id")
        if isinstance(scene_id, str):
            if scene_id in seen_scenes:
                problems.append(Problem(("scenes", si, "id"), f"scene id {scene_id!r} is used twice"))
            seen_scenes.add(scene_id)
        flat += [(("scenes", si, "shots", sj), shot) for sj, shot in _items(scene.get("shots")) if isinstance(shot, Mapping)]

    problems += _looks(raw, characters, seen_scenes, folder)
    seen_shots: set[str] = set()
    known = ", ".join(sorted(str(c) for c in characters)) or "none defined"
    previous_frames: int | None = None
    for index, (loc, shot) in enumerate(flat):
        continues = index > 0 and shot.get("continuity", "cut" if loc[3] == 0 else "continue") == "continue"
        duration = _number(shot.get("duration"), 3.0)
        if continues and previous_frames is not None and k > previous_frames:
            before = flat[index - 1][1].get("id")
            problems.append(Problem(loc + ("continuity",), f"continues {before} from its last {k} frames (settings.context_frames), "
                                    f"but {before} has only {previous_frames}: lower context_frames or lengthen {before}"))
        if duration is not None and spec.duration_problem(duration, fps) is None:
            previous_frames = spec.continued_frames(duration, fps, k)[1] if continues else spec.frames_for(duration, fps)
        else:
            previous_frames = None
        if _text(shot.get("end_frame")):
            problems += _end_frame(folder, spec, shot["end_frame"], loc, flat, index, characters, t2i)
        elif spec.needs_end_frame:
            problems.append(Problem(loc, f"a {spec.name} model lands every shot on a last frame: give this shot an end_frame"))
        shot_id = shot.get("id")
        if isinstance(shot_id, str):
            if shot_id in seen_shots:
                problems.append(Problem(loc + ("id",), f"shot id {shot_id!r} is used twice; shot ids must be unique"))
            seen_shots.add(shot_id)
        for ci, cid in _items(shot.get("characters")):
            if isinstance(cid, str) and cid not in characters:
                problems.append(Problem(loc + ("characters", ci), f"unknown character {cid!r}; known characters: {known}"))
        if _text(shot.get("reference")):
            problems += _asset(folder, shot["reference"], loc + ("reference",), "reference image")
        problems += _loras(shot.get("loras"), loc + ("loras",), spec)
        if index == 0 and shot.get("continuity") == "continue":
            problems.append(Problem(loc + ("continuity",), "the first shot has no previous shot to continue; use 'cut'"))
        if duration is not None and (why := spec.duration_problem(duration, fps)):
            problems.append(Problem(loc + ("duration",), why))
        transition = shot.get("transition")
        fade = _number(transition.get("crossfade")) if isinstance(transition, Mapping) else None
        if fade is None:
            continue
        if index == len(flat) - 1:
            problems.append(Problem(loc + ("transition",), "the last shot has no next shot to crossfade into; use 'cut'"))
            continue
        following = _number(flat[index + 1][1].get("duration"), 3.0)
        if duration is not None and following is not None and fade >= min(duration, following):
            problems.append(
                Problem(
                    loc + ("transition", "crossfade"),
                    f"a {fade:g} s crossfade must be shorter than both shots it joins "
                    f"(shortest is {min(duration, following):g} s)",
                )
            )
    return problems


def _looks(raw: Mapping[str, Any], characters: Mapping[str, Any], scene_ids: set[str], folder: AssetFolder) -> list[Problem]:
    """Looks start at scenes that exist, have files that exist and distinct keys; a scene's
    ``looks`` name known characters and their looks."""
    problems: list[Problem] = []
    keys: dict[str, set[str]] = {}
    for cid, character in characters.items():
        if not isinstance(character, Mapping):
            continue
        keys[cid] = {"base"}
        for li, look in _items(character.get("looks")):
            if not isinstance(look, Mapping):
                continue
            loc = ("characters", cid, "looks", li)
            start, named = look.get("from"), look.get("named")
            if isinstance(start, str) and start not in scene_ids:
                scenes = ", ".join(sorted(scene_ids)[:12]) or "none"
                problems.append(Problem(loc + ("from",), f"no scene {start!r}; a look starts at a scene id ({scenes})"))
            if start is None and named is None:
                problems.append(Problem(loc, "a look needs 'from' (the scene it starts at) or 'named' (the name it goes by)"))
            key = named if isinstance(named, str) else start if isinstance(start, str) else None
            if key is not None and key in keys[cid]:
                problems.append(Problem(loc, f"two looks of {cid} start at {key!r}; give each its own scene or name"))
            if key is not None:
                keys[cid].add(key)
            if _text(look.get("reference")):
                problems += _asset(folder, look["reference"], loc + ("reference",), "reference image")
    for si, scene in _items(raw.get("scenes")):
        given = scene.get("looks") if isinstance(scene, Mapping) else None
        for cid, key in given.items() if isinstance(given, Mapping) else ():
            if cid not in keys:
                problems.append(Problem(("scenes", si, "looks", cid), f"unknown character {cid!r}"))
            elif isinstance(key, str) and key not in keys[cid]:
                problems.append(Problem(("scenes", si, "looks", cid), f"{cid} has no look {key!r}; its looks: {', '.join(sorted(keys[cid]))}"))
    return problems


def _end_frame(folder: AssetFolder, spec: FamilySpec, end: str, loc: Loc, flat: list[tuple[Loc, Mapping[str, Any]]], index: int,
               characters: Mapping[str, Any], t2i: str | None) -> list[Problem]:
    """Problems of a shot's ``end_frame``: a family that cannot land on a frame, a path outside
    the folder, ``next`` where the next shot has no start image of its own, or ``auto`` (its
    end keyframe) without a keyframe model."""
    where = loc + ("end_frame",)
    if not spec.last_frame:
        able = ", ".join(name for name, family in FAMILIES.items() if family.last_frame)
        return [Problem(where, f"a {spec.name} model cannot land a shot on a last frame; families that can: {able}")]
    if end == "auto":
        if not t2i:
            return [Problem(where, "'auto' lands on the shot's end keyframe, which needs a keyframe model: set settings.t2i_model")]
        return []
    if end != "next":
        return _asset(folder, end, where, "end frame")
    if index == len(flat) - 1:
        return [Problem(where, "'next' needs a next shot; this is the last one: give an image path")]
    following_loc, following = flat[index + 1]
    if following.get("continuity", "cut" if following_loc[3] == 0 else "continue") == "continue":
        return [Problem(where, f"'next': {following.get('id')} continues this shot, so its start is this shot's end; "
                               "give an image path, or make the next shot a cut")]
    cast = [c for c in following.get("characters") or () if isinstance(c, str)]
    has_reference = _text(following.get("reference")) or any(
        isinstance(characters.get(c), Mapping) and _text(characters[c].get("reference")) for c in cast)
    if not has_reference and not t2i:
        return [Problem(where, f"'next': {following.get('id')} has no start image (no reference, no keyframe model) to land on")]
    return []


LORA_FAMILIES = ("wan", "wan_flf2v", "wan22", "wan22_ti2v", "wan_vace")


def lora_path_problem(path: str) -> str | None:
    """Why a LoRA path is refused before looking for the file (None: it may be used)."""
    if not path.lower().endswith(".safetensors"):
        return (f"LoRA {path!r} is not a .safetensors file; storyreel loads safetensors only "
                "(a .ckpt / .pt file can run code when it is opened): convert it first")
    parts = Path(path).parts
    if Path(path).is_absolute() or ".." in parts or path.startswith("~"):
        return f"LoRA {path!r} must be a path inside the storyboard's folder or under <home>/loras/"
    return None


def _loras(entries: Any, loc: Loc, spec: FamilySpec) -> list[Problem]:
    problems = []
    for i, entry in _items(entries):
        path = entry.get("path") if isinstance(entry, Mapping) else None
        if not _text(path):
            continue
        if spec.name not in LORA_FAMILIES:
            problems.append(Problem(loc + (i, "path"), f"LoRAs are applied to Wan models; a {spec.name} model takes none"))
        elif (why := lora_path_problem(path)) is not None:
            problems.append(Problem(loc + (i, "path"), why))
    return problems


def _asset(folder: AssetFolder, relative: str, loc: Loc, what: str) -> list[Problem]:
    problem = folder.problem(relative, what)
    return [Problem(loc, problem)] if problem else []
