"""Turning a raw document into a `Storyboard`, with every error pointing at a line.

Each format module produces a plain dict shaped like the YAML storyboard plus a `Locator`
(document path → line); `build_storyboard` validates both field rules and cross-field rules
and raises one `StoryboardError` listing every problem.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import gc
import os
import stat
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from shots.checks import Loc, Problem, _os_reason, check_storyboard
from shots.errors import StoryboardError
from shots.models import Storyboard

MAX_BYTES = 1024 * 1024
"""Largest storyboard file read (README, "Limits"): about 8 000 shots of YAML."""
MAX_ALIAS_NODES = 100_000
"""How many nodes YAML aliases may add to a document when expanded (a "billion laughs"
document would add 10⁹)."""
_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's, when PyYAML has it


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


def read_bytes(path: Path, limit: int = MAX_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes, or a located StoryboardError.

    FIFOs, devices and folders are refused before reading (``/dev/zero`` would never end, a
    FIFO would wait for a writer); the file is opened once and checked through its handle.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise StoryboardError("file not found", file=str(path)) from None
    except IsADirectoryError:
        raise StoryboardError("is a folder; give a storyboard file", file=str(path)) from None
    except OSError as exc:
        raise StoryboardError(f"cannot read: {_os_reason(exc)}", file=str(path)) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise StoryboardError("is a folder; give a storyboard file", file=str(path))
        if not stat.S_ISREG(info.st_mode):
            raise StoryboardError("is not a regular file (a device, FIFO or socket); give a storyboard file", file=str(path))
        if info.st_size > limit:
            raise StoryboardError(f"is {info.st_size / 2**20:.1f} MiB; storyboards are at most {limit // 2**20} MiB", file=str(path))
        chunks, size = [], 0
        while size <= limit and (chunk := os.read(fd, 1 << 16)):
            chunks.append(chunk)
            size += len(chunk)
        data = b"".join(chunks)
    except OSError as exc:
        raise StoryboardError(f"cannot read: {_os_reason(exc)}", file=str(path)) from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise StoryboardError(f"storyboards are at most {limit // 2**20} MiB", file=str(path))
    return data


def read_text(path: Path) -> str:
    """Read a storyboard file as UTF-8 (a BOM is allowed), or raise a located error."""
    data = read_bytes(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise StoryboardError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8",
            file=str(path),
            line=line,
        ) from None
    if text.startswith("\ufeff"):
        raise StoryboardError("starts with two byte-order marks; save the file as UTF-8 with one BOM or none", file=str(path), line=1)
    if "\x00" in text:
        raise StoryboardError("contains NUL bytes; is this a text file?", file=str(path))
    if not text.strip():
        raise StoryboardError("the storyboard is empty", file=str(path), line=1)
    return text


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off while a document's objects are made: a 1 MB storyboard is
    some 100 000 nodes, and collections triggered by their allocation took two thirds of the
    parse. The input is bounded (`MAX_BYTES`) and a parse makes no cycles a refcount misses."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def build_storyboard(raw: Mapping[str, Any], locator: Locator, file: str, base_dir: Path) -> Storyboard:
    """Validate ``raw`` into a `Storyboard`; raise one error naming every problem.

    Field rules (pydantic) and cross-field rules (`check_storyboard`) run in the same pass, so
    every problem is reported at once.
    """
    problems: list[Problem] = []
    board = None
    with collector_paused():
        try:
            board = Storyboard.model_validate(raw)
        except ValidationError as exc:
            problems = [p for err in exc.errors() if (p := _problem_from_pydantic(err)) is not None]
        problems = _dedupe(problems + check_storyboard(raw, base_dir))
    if problems or board is None:
        raise _error(problems or [Problem((), "not a valid storyboard")], locator, file)
    return board


MAX_LISTED = 200
"""Problems listed one by one; past these, the error says how many more there are."""


def _dedupe(problems: typing.Iterable[Problem]) -> list[Problem]:
    """One problem per place; a container's error is dropped when an item inside it has one.
    Linear in the number of problems (each place's prefixes are looked up, not compared)."""
    seen: dict[Loc, Problem] = {}
    for p in problems:
        seen.setdefault(p.loc, p)
    inner = {loc[:n] for loc in seen for n in range(len(loc))}  # every strict prefix of a place
    return [p for p in seen.values() if p.loc not in inner]


def _error(problems: list[Problem], locator: Locator, file: str) -> StoryboardError:
    """One error listing the first `MAX_LISTED` problems by line, and how many more there are
    (only the listed ones are formatted)."""
    by_line = sorted(((locator.line_of(p.loc) or 0, n) for n, p in enumerate(problems)))

    def located(line: int, n: int) -> StoryboardError:
        p = problems[n]
        return StoryboardError(p.message, file=file, line=line or None,
                               field=".".join(str(x) for x in locator.rename(p.loc)) or None)

    first, *rest = (located(line, n) for line, n in by_line[:MAX_LISTED])
    if rest:
        first.message += "".join(f"\n{e}" for e in rest)
        if len(by_line) > MAX_LISTED:
            first.message += f"\n… and {len(by_line) - MAX_LISTED} more problems (fix these first)"
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
        shape = tuple(0 if isinstance(part, int) else part for part in loc[:-1])
        return Problem(tuple(loc), _unknown_key(shape, str(loc[-1])))
    if kind == "missing":
        return Problem(tuple(loc), "required and missing")
    message = str(err.get("ctx", {}).get("error", "")) if kind == "value_error" else err["msg"]
    message = message or err["msg"]
    if "transition" in loc[-2:]:
        message = f"{message}; use 'cut' or {{crossfade: SECONDS}}"
    if "[key]" in err["loc"]:
        what = "metric" if "thresholds" in loc else "look" if "looks" in loc else "id"
        message = f"{what} {loc[-1]!r}: {message}" if what == "id" else f"unknown {what} {loc[-1]!r}: {message}"
    return Problem(tuple(loc), message)


@functools.lru_cache(maxsize=1024)
def _unknown_key(shape: Loc, key: str) -> str:
    """The message for ``key`` where the document's shape (indices as 0) allows other keys;
    cached, so a key misspelt in every one of 10 000 shots is looked up once."""
    allowed = _allowed_keys(shape)
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key {key!r}{hint}; allowed keys: {', '.join(allowed)}"


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


def load_yaml(text: str) -> tuple[Any, dict[Loc, int]]:
    """Parse YAML once: the data and the line of every key and item.

    Raises:
        StoryboardError: (without a file) for a syntax error at the line of its cause, a
            mapping key that is not a plain scalar, a duplicate key, aliases that expand past
            `MAX_ALIAS_NODES`, or nesting too deep.
        yaml.YAMLError: Never; converted as above.
    """
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, {}
        lines = _line_map(root, text)
        return loader.construct_document(root), lines
    except yaml.MarkedYAMLError as exc:
        raise StoryboardError(f"not valid YAML: {_yaml_problem(exc)}", line=_yaml_line(exc, text)) from None
    except yaml.YAMLError as exc:
        raise StoryboardError(f"not valid YAML: {exc}") from None
    except RecursionError:
        raise StoryboardError("YAML nested too deeply") from None
    finally:
        loader.dispose()


def _yaml_line(exc: yaml.MarkedYAMLError, text: str) -> int | None:
    """The line of a YAML error's cause: where the scanner found the problem, unless that is the
    end of the file (an unclosed quote or bracket), then where the unclosed thing began."""
    problem, context = exc.problem_mark, exc.context_mark
    mark = problem or context
    if problem is not None and context is not None and problem.index >= len(text.rstrip()):
        mark = context
    if mark is None:
        return None
    return min(mark.line + 1, max(1, text.count("\n") + (0 if text.endswith("\n") else 1)))


def _yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    if exc.context and exc.problem:
        return f"{exc.problem} ({exc.context})"
    return exc.problem or exc.context or "syntax error"


def _expanded_size(root: yaml.Node) -> int:
    """Nodes of the document with every alias expanded, counted without expanding them."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()  # nodes whose children are being counted: the path from the root
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        if not done and id(node) in open_:  # reached again from inside itself: `x: &r [*r]`
            raise StoryboardError(
                "a YAML alias refers to the block it is in (an endless value); write the values out",
                line=node.start_mark.line + 1,
            )
        open_.add(id(node))
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        if done:
            sizes[id(node)] = min(1 + sum(sizes[id(c)] for c in children), 10**12)
            continue
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def _line_map(root: yaml.Node, text: str) -> dict[Loc, int]:
    if "*" in text and _expanded_size(root) > _distinct_nodes(root) + MAX_ALIAS_NODES:  # no '*', no alias
        raise StoryboardError(
            f"YAML aliases expand this document past {MAX_ALIAS_NODES} nodes; write the values out "
            "(storyboards allow aliases for small shared blocks only)",
            line=1,
        )
    lines: dict[Loc, int] = {}
    stack: list[tuple[yaml.Node, Loc]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        lines.setdefault(path, node.start_mark.line + 1)
        if node.tag == "tag:yaml.org,2002:binary":
            raise StoryboardError("a !!binary value is not text; storyboards hold text, numbers and lists", line=node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise StoryboardError(
                        "a key must be a plain word or string, not a list or mapping (YAML '? [a, b]' keys are not allowed)",
                        line=key_node.start_mark.line + 1,
                    )
                key = key_node.value
                if key in seen and key != "<<":
                    raise StoryboardError(f"key {key!r} appears twice in the same block", line=key_node.start_mark.line + 1)
                seen.add(key)
                lines[path + (key,)] = key_node.start_mark.line + 1
                stack.append((value_node, path + (key,)))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, path + (i,)) for i, item in enumerate(node.value))
    return lines


def _distinct_nodes(root: yaml.Node) -> int:
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            stack.extend(n for pair in node.value for n in pair)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return len(seen)
