"""Random and mutated storyboards: always a Storyboard or a clean StoryboardError (and, through
the command line, exit 0 or 2 with a located message, in time). Fixed seeds: the same examples
every run."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shots import load_storyboard
from shots.errors import StoryboardError
from tests.conftest import DEMO, run_cli

DEMO_TEXT = DEMO.read_text()
DEMO_DATA = yaml.safe_load(DEMO_TEXT)

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10**12), st.floats(allow_nan=True),
    st.text(max_size=12), st.sampled_from(["cut", "continue", "s01", "red", "../x.png", "tiny"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8) | st.sampled_from(["id", "prompt", "crossfade", "shots"]), inner, max_size=4),
    max_leaves=20,
)


def _load(text: str | bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sb.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
        try:
            load_storyboard(path)
        except StoryboardError as exc:
            assert str(exc).startswith(str(path))
            assert "Traceback" not in str(exc)


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_random_bytes(data: bytes) -> None:
    _load(data)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.integers(0, len(DEMO_TEXT)), st.integers(0, 40), st.text(max_size=20))
def test_mutated_demo_text(start: int, length: int, insert: str) -> None:
    _load(DEMO_TEXT[:start] + insert + DEMO_TEXT[start + length :])


def _paths(node: object, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, prefix + (i,))
    return out


DEMO_PATHS = _paths(DEMO_DATA)[1:]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.sampled_from(DEMO_PATHS), values)
def test_mutated_demo_structure(path: tuple, value: object) -> None:
    import copy

    data = copy.deepcopy(DEMO_DATA)
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    try:
        text = yaml.safe_dump(data, allow_unicode=True)
    except yaml.YAMLError:
        return
    _load(text)


# Through the command line, every format: exit 0 or 2, a located message, no traceback, in time.
FOUNTAIN_LINES = st.sampled_from([
    "", "", "INT. ROOM - DAY", "EXT. FIELD", ".CAVE", "MAYA", "MAYA (V.O.)", "@McCLANE", "(quietly)", "Hello there.",
    "A red circle moves right.", "MAYA, a keeper in a red scarf, climbs.", "CUT TO:", "DISSOLVE TO:", "> THE END <",
    "[[a note", "]]", "/*", "*/", "Title: x", "===", "# Act", "= synopsis", "A" + " " * 300 + "b", "!FORCED ACTION",
    "~lyric", "BRICK ^", "[[" * 40, "INT. HOUSE #12#",
])
CSV_CELLS = st.sampled_from(["", "s1", "s1", "a red circle", "2", "-1", "1e30", "nan", "inf", "true", "cut", "crossfade 0.5",
                             "crossfade 99", "dissolve", "continue", "red;blue", "../x.png", "x" * 300, '"', "\n"])


def _cli(tmp: str, name: str, text: str) -> None:
    path = Path(tmp) / name
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    for args in (("validate", str(path)), ("plan", "--json", str(path))):
        started = time.perf_counter()
        code, out, err = run_cli(*args)
        assert time.perf_counter() - started < 2.0, args
        assert code in (0, 2), err
        assert "Traceback" not in out + err
        if code == 2:
            assert err.startswith(f"Error: {path}"), err


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(DEMO_TEXT)), st.integers(0, 60), st.text(max_size=30))
def test_cli_on_malformed_yaml(start: int, length: int, insert: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        _cli(tmp, "sb.yaml", DEMO_TEXT[:start] + insert + DEMO_TEXT[start + length :])


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(FOUNTAIN_LINES | st.text(max_size=40), max_size=40))
def test_cli_on_malformed_fountain(lines: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        _cli(tmp, "script.fountain", "\n".join(lines))


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(["scene", "shot", "description", "duration", "characters", "transition", "seed", "steps", "reference", "color"]),
             min_size=1, max_size=6),
    st.lists(st.lists(CSV_CELLS | st.text(max_size=10), max_size=7), max_size=8),
)
def test_cli_on_malformed_csv(header: list[str], rows: list[list[str]]) -> None:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    with tempfile.TemporaryDirectory() as tmp:
        _cli(tmp, "shots.csv", buffer.getvalue())
