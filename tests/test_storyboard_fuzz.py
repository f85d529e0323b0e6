"""Random and mutated storyboards: always a Storyboard or a clean StoryboardError."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shots import load_storyboard
from shots.errors import StoryboardError
from tests.conftest import DEMO

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


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_random_bytes(data: bytes) -> None:
    _load(data)


@settings(max_examples=200, deadline=None)
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


@settings(max_examples=300, deadline=None)
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
