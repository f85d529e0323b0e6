"""Wan VACE, LTX conditions and Wan first–last-frame through real tiny pipelines: what reaches
the pipeline call, what the take keeps, and the same frames for the same seed."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import generation.render
from generation.frames import neutral_frame
from generation.loading import _load, load_pipeline
from generation.render import render_take
from generation.types import RenderRequest
from tests.conftest import run_cli

SIZE = 32


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    from generation.tiny import make_tiny

    root = tmp_path_factory.mktemp("families")
    return {family: str(make_tiny(root / family, family)) for family in ("wan_vace", "ltx_condition", "wan_flf2v")}


def _frames(seed: int, count: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, SIZE, SIZE, 3), dtype=np.uint8)


def _request(**changes: object) -> RenderRequest:
    base = RenderRequest("a red circle moves right", "", neutral_frame(SIZE, SIZE), SIZE, SIZE, 17, 2, 5.0, 3)
    return dataclasses.replace(base, **changes)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Every pipeline call: its arguments, and the frames the pipeline returned."""
    seen: list[dict] = []
    real = generation.render.call_pipeline

    def spy(pipe, kwargs):  # type: ignore[no-untyped-def]
        output = real(pipe, kwargs)
        seen.append({"pipe": type(pipe).__name__, "kwargs": kwargs, "output": np.asarray(output.frames[0])})
        return output

    monkeypatch.setattr(generation.render, "call_pipeline", spy)
    return seen


def _array(image: object) -> np.ndarray:
    return np.asarray(image.convert("RGB"))  # type: ignore[attr-defined]


def test_vace_continuation_keeps_the_context_and_the_take_begins_after_it(models, calls) -> None:
    from generation.frames import to_uint8

    loaded = load_pipeline(models["wan_vace"])
    context, refs = _frames(1, 8), (_frames(2, 1)[0], _frames(3, 1)[0][:20])
    result = render_take(loaded, _request(frames=17, context=context, references=refs), fps=16)
    (call,) = calls
    video, mask = call["kwargs"]["video"], call["kwargs"]["mask"]
    assert len(video) == len(mask) == 17
    assert all(np.array_equal(_array(v), c) for v, c in zip(video[:8], context))  # by value
    assert [int(_array(m).max()) for m in mask] == [0] * 8 + [255] * 9  # keep the context, make the rest
    assert [np.array_equal(_array(r), ref) for r, ref in zip(call["kwargs"]["reference_images"], refs)] == [True, True]
    assert result.frames.shape == (9, SIZE, SIZE, 3)
    assert np.array_equal(result.frames, to_uint8(call["output"][8:]))  # the frame after the context first


def test_vace_cut_starts_from_its_image_lands_on_its_end_or_renders_from_text(models, calls) -> None:
    loaded = load_pipeline(models["wan_vace"])
    start, end = _frames(4, 1)[0], _frames(5, 1)[0]
    render_take(loaded, _request(image=start, end_image=end), fps=16)
    render_take(loaded, _request(start_image=False), fps=16)
    first, text = calls
    masks = [int(_array(m).max()) for m in first["kwargs"]["mask"]]
    assert masks == [0] + [255] * 15 + [0]
    assert np.array_equal(_array(first["kwargs"]["video"][0]), start) and np.array_equal(_array(first["kwargs"]["video"][-1]), end)
    assert "video" not in text["kwargs"] and "mask" not in text["kwargs"]


def test_ltx_continues_from_k_frames_and_lands_on_a_last_frame(models, calls) -> None:
    loaded = load_pipeline(models["ltx_condition"])
    context, end = _frames(6, 9), _frames(7, 1)[0]
    result = render_take(loaded, _request(frames=25, context=context, end_image=end), fps=24)
    (call,) = calls
    assert call["pipe"] == "LTXConditionPipeline"
    video, last = call["kwargs"]["conditions"]
    assert video.frame_index == 0 and all(np.array_equal(_array(v), c) for v, c in zip(video.video, context))
    assert last.frame_index == 24 and np.array_equal(_array(last.image), end)
    assert result.frames.shape == (16, SIZE, SIZE, 3)
    with pytest.raises(ValueError, match="1 or 8k\\+1"):
        render_take(loaded, _request(frames=25, context=context[:8]), fps=24)


def test_an_image_to_video_ltx_folder_gets_conditions_through_the_same_weights(tiny_models, calls) -> None:
    loaded = load_pipeline(str(tiny_models["ltx"]))
    render_take(loaded, _request(frames=17, end_image=_frames(8, 1)[0]), fps=24)
    assert calls[-1]["pipe"] == "LTXConditionPipeline"
    render_take(loaded, _request(frames=17), fps=24)
    assert calls[-1]["pipe"] == "LTXImageToVideoPipeline"


def test_first_last_frame_weights_need_and_take_a_last_frame(models, calls) -> None:
    loaded = load_pipeline(models["wan_flf2v"])
    end = _frames(9, 1)[0]
    render_take(loaded, _request(end_image=end), fps=16)
    assert np.array_equal(_array(calls[-1]["kwargs"]["last_image"]), end)
    with pytest.raises(ValueError, match="give an end_image"):
        render_take(loaded, _request(), fps=16)
    plain = load_pipeline(str(models["wan_flf2v"]).replace("wan_flf2v", "wan_vace"))  # another family: VACE lands too
    render_take(plain, _request(end_image=end), fps=16)


@pytest.mark.parametrize("family", ["wan_vace", "ltx_condition", "wan_flf2v"])
def test_same_seed_same_frames_even_after_a_fresh_load(models, family: str) -> None:
    loaded = load_pipeline(models[family])
    extra = {"end_image": _frames(10, 1)[0]}
    if family != "wan_flf2v":
        extra["context"] = _frames(11, 9 if family.startswith("ltx") else 8)
    request = _request(frames=25 if family.startswith("ltx") else 17, **extra)
    a = render_take(loaded, request, fps=16).frames
    assert np.array_equal(a, render_take(loaded, request, fps=16).frames)
    assert not np.array_equal(a, render_take(loaded, dataclasses.replace(request, seed=4), fps=16).frames)
    assert np.array_equal(a, render_take(_load(models[family], loaded.options), request, fps=16).frames)


def test_make_tiny_builds_each_new_family(tmp_path) -> None:
    import json

    for family, cls in (("wan_vace", "WanVACEPipeline"), ("ltx_condition", "LTXConditionPipeline"), ("wan_flf2v", "WanImageToVideoPipeline")):
        code, out, err = run_cli("models", "make-tiny", "--random", "--family", family, str(tmp_path / family))
        assert code == 0, err
        assert json.loads((tmp_path / family / "model_index.json").read_text())["_class_name"] == cls
    assert load_pipeline(str(tmp_path / "wan_flf2v")).family == "wan_flf2v"  # told apart by its transformer
    assert load_pipeline(str(tmp_path / "wan_vace")).family == "wan_vace"


@pytest.mark.parametrize(
    ("family", "shots", "needle"),
    [
        ("cogvideox", "  - {id: a, prompt: x, end_frame: last.png}\n", "shots.0.end_frame: a cogvideox model cannot land a shot on a last frame; families that can: wan_flf2v, wan_vace, ltx"),
        ("wan_vace", "  - {id: a, prompt: x, end_frame: ../outside.png}\n", "shots.0.end_frame: '../outside.png' is outside the storyboard's folder"),
        ("wan_vace", "  - {id: a, prompt: x, duration: 0.3}\n  - {id: b, prompt: y}\n",
         "shots.1.continuity: continues a from its last 8 frames (settings.context_frames), but a has only 5"),
        ("wan_vace", "  - {id: a, prompt: x, end_frame: next}\n  - {id: b, prompt: y}\n", "shots.0.end_frame: 'next': b continues this shot"),
        ("wan_flf2v", "  - {id: a, prompt: x}\n", "shots.0: a wan_flf2v model lands every shot on a last frame"),
        ("wan", "  - {id: a, prompt: x}\n  - {id: b, prompt: y}\nsettings: {context_frames: 8}\n", "settings.context_frames: wan continues from one frame"),
    ],
)
def test_what_a_family_cannot_do_is_refused_at_validate(write, tiny_models, models, family: str, shots: str, needle: str) -> None:
    model = models.get(family) or str(tiny_models[family])
    text = f"title: t\nshots:\n{shots}"
    text = text.replace("settings: {", f"settings: {{model: {model}, ") if "settings:" in text else text + f"settings: {{model: {model}}}\n"
    board = write("board.yaml", text)
    write("last.png", b"")
    code, _, err = run_cli("validate", str(board))
    assert code == 2 and needle in err, err
