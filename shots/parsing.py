"""Turning a raw document into a `Storyboard`, with every error pointing at a line.

Each format module produces a plain dict shaped like the YAML storyboard plus a `Locator`
(document path → line); `build_storyboard` validates both field rules and cross-field rules
and raises one `StoryboardError` listing every problem.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from shots.checks import Loc, Problem, check_storyboard
from shots.errors import StoryboardError
from shots.models import Storyboard

MAX_BYTES = 5 * 1024 * 1024


@dataclass
class Locator:
    """Maps a path into the document (keys and indices) to a 1-based line.

    Attributes:
        lines: Known paths and their lines; the longest known prefix of a path wins.
        rename: Rewrites a validated path into the shape the user wrote (e.g. a flat
            ``shots`` list is validated as ``scenes.0.shots``).
    """

    lines: dict[Loc, int] = field(default_factory=dict)
    rename: Callable[[Loc], Loc] = lambda loc: loc

    def line_of(self, loc: Loc) -> int | None:
        loc = self.rename(loc)
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return None


def read_text(path: Path) -> str:
    """Read a storyboard file as UTF-8 (a BOM is allowed), or raise a located error."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise StoryboardError("file not found", file=str(path)) from None
    except IsADirectoryError:
        raise StoryboardError("is a folder; give a storyboard file", file=str(path)) from None
    except OSError as exc:
        raise StoryboardError(f"cannot read: {exc.strerror}", file=str(path)) from None
    if len(data) > MAX_BYTES:
        raise StoryboardError(f"larger than {MAX_BYTES // 2**20} MiB", file=str(path))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise StoryboardError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8",
            file=str(path),
            line=line,
        ) from None
    if "\x00" in text:
        raise StoryboardError("contains NUL bytes; is this a text file?", file=str(path))
    if not text.strip():
        raise StoryboardError("the storyboard is empty", file=str(path), line=1)
    return text


def build_storyboard(raw: Mapping[str, Any], locator: Locator, file: str, base_dir: Path) -> Storyboard:
    """Validate ``raw`` into a `Storyboard`; raise one error naming every problem."""
    try:
        board = Storyboard.model_validate(raw)
    except ValidationError as exc:
        problems = [_problem_from_pydantic(err) for err in exc.errors()]
        raise _error(_dedupe(p for p in problems if p is not None), locator, file) from None
    problems = check_storyboard(board, base_dir)
    if problems:
        raise _error(problems, locator, file)
    return board


def _dedupe(problems: typing.Iterable[Problem]) -> list[Problem]:
    """One problem per place; a container's error is dropped when an item inside it has one."""
    seen: dict[Loc, Problem] = {}
    for p in problems:
        seen.setdefault(p.loc, p)
    locs = list(seen)
    return [p for p in seen.values() if not any(o[: len(p.loc)] == p.loc and o != p.loc for o in locs)]


def _error(problems: list[Problem], locator: Locator, file: str) -> StoryboardError:
    located = [
        StoryboardError(
            p.message,
            file=file,
            line=locator.line_of(p.loc),
            field=".".join(str(x) for x in locator.rename(p.loc)) or None,
        )
        for p in problems
    ]
    located.sort(key=lambda e: e.line or 0)
    first = located[0]
    if len(located) > 1:
        first.message += "".join(f"\n{e}" for e in located[1:])
        first.args = (str(first),)
    return first


def _problem_from_pydantic(err: Mapping[str, Any]) -> Problem | None:
    """One pydantic error as a Problem, with union branch tags removed from its path."""
    loc: list[str | int] = []
    value = err.get("input")
    for part in err["loc"]:
        if isinstance(part, str) and part.startswith("literal["):
            if isinstance(value, dict):
                return None  # the model branch of the union reports it better
            continue
        if part == "Crossfade":
            if not isinstance(value, dict) and err["type"] == "model_type":
                return None
            continue
        if part == "[key]":
            continue
        loc.append(part)
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(tuple(loc[:-1]))
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return Problem(tuple(loc), f"unknown key {loc[-1]!r}{hint}; allowed keys: {', '.join(allowed)}")
    if kind == "missing":
        return Problem(tuple(loc), "required and missing")
    message = err["msg"]
    if "transition" in loc[-2:]:
        message = f"{message}; use 'cut' or {{crossfade: SECONDS}}"
    if "[key]" in err["loc"]:
        message = f"unknown metric {loc[-1]!r}: {message}"
    return Problem(tuple(loc), message)


def _allowed_keys(loc: Loc) -> list[str]:
    """Field names of the model found at ``loc`` inside a Storyboard."""
    model: type[BaseModel] = Storyboard
    annotation: Any = None  # None while standing on a model; else the container being entered
    for part in loc:
        if annotation is None:
            if not isinstance(part, str) or part not in model.model_fields:
                return []
            annotation = model.model_fields[part].annotation
        else:
            args = typing.get_args(annotation)
            if args:  # item of tuple[X, ...], value of dict[K, X]
                annotation = args[0] if typing.get_origin(annotation) is tuple else args[-1]
        found = _model_in(annotation)
        if found is not None:
            model, annotation = found, None
    return sorted(model.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def yaml_line_map(text: str) -> dict[Loc, int]:
    """Line of every key and item in a YAML document; raises on duplicate mapping keys."""
    lines: dict[Loc, int] = {}
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is None:
        return lines

    def walk(node: yaml.Node, path: Loc) -> None:
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = key_node.value
                if key in seen:
                    raise StoryboardError(
                        f"key {key!r} appears twice in the same block",
                        line=key_node.start_mark.line + 1,
                    )
                seen.add(key)
                walk(value_node, path + (key,))
                lines[path + (key,)] = key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, path + (i,))

    walk(root, ())
    return lines
