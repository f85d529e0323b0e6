"""Rendering through real tiny diffusers pipelines saved to and loaded from disk."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from generation.frames import handoff_frame, laplacian_variance, neutral_frame
from generation.keyframes import from_previous, from_reference, from_text
from generation.loading import PIPELINES, load_pipeline
from generation.render import render_take
from generation.types import LoadOptions, RenderRequest
from shots.errors import ConfigError, ModelLoadError

SIZES = {"wan": (64, 17), "wan22": (64, 17), "wan22_ti2v": (64, 17), "ltx": (64, 17), "cogvideox": (32, 9)}


def _request(family: str = "wan", **changes: object) -> RenderRequest:
    size, frames = SIZES[family]
    base = RenderRequest("a red circle moves right", "", neutral_frame(size, size), size, size, frames, 2, 5.0, 3)
    return replace(base, **changes)


@pytest.mark.parametrize("family", ["wan", "wan22", "wan22_ti2v", "ltx", "cogvideox"])
def test_every_family_loads_from_disk_and_renders(tiny_models, family: str) -> None:
    loaded = load_pipeline(str(tiny_models[family]))
    assert loaded.family == family
    result = render_take(loaded, _request(family), fps=16)
    size, frames = SIZES[family]
    assert result.frames.shape == (frames, size, size, 3) and result.frames.dtype == np.uint8
    assert result.frames.std() > 0  # not a blank clip
    assert result.timings.denoise > 0 and result.timings.decode > 0 and result.timings.text_encode > 0


def test_n_renders_one_load(tiny_models) -> None:
    model = str(tiny_models["wan"])
    options = LoadOptions(vae_tiling=False, cache_threshold=0.123)  # a key no other test uses
    for seed in range(3):
        render_take(load_pipeline(model, options), _request(seed=seed), fps=16)
    assert sum(n for (m, o), n in PIPELINES.loads.items() if m == model and o.cache_threshold == 0.123) == 1


def test_seed_determines_frames_even_across_fresh_loads(tiny_models) -> None:
    model = str(tiny_models["wan"])
    loaded = load_pipeline(model)
    a = render_take(loaded, _request(seed=11), fps=16).frames
    b = render_take(loaded, _request(seed=11), fps=16).frames
    c = render_take(loaded, _request(seed=12), fps=16).frames
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    from generation.loading import (
        _load,  # a second from_pretrained, bypassing the cache
    )

    fresh = _load(model, loaded.options)
    assert np.array_equal(render_take(fresh, _request(seed=11), fps=16).frames, a)


@pytest.mark.parametrize(
    ("family", "changes", "needle"),
    [
        ("wan", {"width": 70}, "width=70"),
        ("wan", {"height": 40}, "height=40"),
        ("wan", {"frames": 18}, "num_frames=18"),
        ("ltx", {"width": 48}, "multiple of 32"),
        ("ltx", {"frames": 13}, "num_frames=13"),
        ("cogvideox", {"frames": 57}, "num_frames=57"),
        ("wan", {"steps": 0}, "num_inference_steps=0"),
        ("wan", {"image": np.zeros((8, 8, 3), np.uint8)}, "image must be uint8 (64, 64, 3)"),
    ],
)
def test_inputs_are_checked_before_any_work(tiny_models, family: str, changes: dict, needle: str) -> None:
    loaded = load_pipeline(str(tiny_models[family]))
    with pytest.raises(ValueError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        render_take(loaded, _request(family, **changes), fps=16)


def test_chaining_conditions_on_the_previous_takes_frame(tiny_models) -> None:
    loaded = load_pipeline(str(tiny_models["wan"]))
    first = render_take(loaded, _request(seed=1), fps=16).frames
    start = from_previous(first, 64, 64, "sharpest", 8)
    index = int(start.source.split(":")[1])
    assert index >= len(first) - 8 and np.array_equal(start.image, first[index])
    chained = render_take(loaded, _request(seed=2, image=start.image), fps=16).frames
    other = render_take(loaded, _request(seed=2, image=first[0]), fps=16).frames
    assert not np.array_equal(chained, other)  # the conditioning frame changes the take


def test_handoff_sharpest_and_last() -> None:
    rng = np.random.default_rng(0)
    frames = np.full((10, 32, 32, 3), 100, np.uint8)
    frames[7] = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)  # the only sharp frame
    assert handoff_frame(frames, "sharpest", 4)[0] == 7
    assert handoff_frame(frames, "sharpest", 2)[0] == 9  # window excludes 7: ties → latest
    assert handoff_frame(frames, "last")[0] == 9
    assert laplacian_variance(frames[7]) > laplacian_variance(frames[0]) == 0
    with pytest.raises(ValueError, match="keyframe mode"):
        handoff_frame(frames, "middle")


def test_start_frames_for_cut_shots(tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (100, 50), (255, 0, 0)).save(tmp_path / "ref.png")
    ref = from_reference(tmp_path / "ref.png", 64, 64)
    assert ref.image.shape == (64, 64, 3) and tuple(ref.image[32, 32]) == (255, 0, 0)
    assert from_text("x", 64, 64, 0, None, has_t2v=True).text_only
    neutral = from_text("x", 64, 64, 0, None, has_t2v=False)
    assert neutral.source == "neutral" and not neutral.text_only
    with pytest.raises(ValueError, match="cannot read image"):
        from_reference(tmp_path / "missing.png", 64, 64)


@pytest.mark.parametrize("family", ["ltx", "wan22_ti2v"])
def test_text_to_video_mode_where_the_family_has_one(tiny_models, family: str) -> None:
    loaded = load_pipeline(str(tiny_models[family]))
    frames = render_take(loaded, _request(family), fps=24, text_only=True).frames
    assert frames.shape == (17, 64, 64, 3)


def test_wan22_two_experts_both_denoise(tiny_models) -> None:
    loaded = load_pipeline(str(tiny_models["wan22"]))
    calls = {"transformer": 0, "transformer_2": 0}
    hooks = [
        getattr(loaded.pipe, name).register_forward_pre_hook(lambda *_, n=name: calls.__setitem__(n, calls[n] + 1))
        for name in calls
    ]
    try:
        result = render_take(loaded, _request("wan22", steps=8), fps=16)
    finally:
        for hook in hooks:
            hook.remove()
    # the high-noise expert takes the early steps, the low-noise one the rest
    assert calls["transformer"] > 0 and calls["transformer_2"] > 0
    assert calls["transformer"] + calls["transformer_2"] == 8 * 2  # steps · (cond + uncond)
    assert result.attention_calls[1] == 8 * 2 * 2 * 2  # steps · cfg · layers · attentions, over both


def test_families_are_told_apart_from_model_index(tiny_models) -> None:
    assert {f: load_pipeline(str(tiny_models[f])).family for f in tiny_models} == {f: f for f in tiny_models}
    with pytest.raises(ValueError, match="multiple of 32"):
        render_take(load_pipeline(str(tiny_models["wan22_ti2v"])), _request("wan22_ti2v", width=48, height=48, image=neutral_frame(48, 48)), fps=24)


def test_text_to_video_is_refused_where_the_family_has_none(tiny_models) -> None:
    with pytest.raises(ValueError, match="no text-to-video mode"):
        render_take(load_pipeline(str(tiny_models["wan"])), _request(), fps=16, text_only=True)


@pytest.mark.parametrize("cache", ["first_block", "taylorseer", "pyramid", "mag"])
def test_each_cache_hook_really_skips_work(tiny_models, cache: str) -> None:
    loaded = load_pipeline(str(tiny_models["wan"]), LoadOptions(cache=cache, cache_threshold=0.5))
    request = _request(steps=10)
    results = [render_take(loaded, request, fps=16) for _ in range(2)]
    base = render_take(load_pipeline(str(tiny_models["wan"])), request, fps=16)
    assert base.cache_skipped == 0 and base.attention_calls[1] == 10 * 2 * 2 * 2  # steps·cfg·layers·attn
    if cache == "mag":
        assert results[0].cache_skipped == 0  # the first render calibrates
    assert results[-1].cache_skipped > 0.1, results[-1].attention_calls
    assert results[-1].frames.shape == base.frames.shape


def test_vae_tiling_and_attention_backend_are_scoped(tiny_models) -> None:
    from diffusers.models.attention_dispatch import _AttentionBackendRegistry

    loaded = load_pipeline(str(tiny_models["wan"]), LoadOptions(vae_tiling=True))
    assert loaded.pipe.vae.use_tiling
    before = _AttentionBackendRegistry._active_backend
    plain = render_take(loaded, _request(), fps=16).frames
    scoped = render_take(loaded, _request(attention_backend="_native_math"), fps=16).frames
    assert _AttentionBackendRegistry._active_backend == before
    assert np.abs(plain.astype(int) - scoped.astype(int)).max() <= 2
    with pytest.raises(ConfigError, match="attention backend 'warp'"):
        render_take(loaded, _request(attention_backend="warp"), fps=16)


@pytest.mark.parametrize("memory", ["model_offload", "group_offload"])
def test_offload_needs_cuda_and_dtype_defaults(tiny_models, memory: str) -> None:
    with pytest.raises(ConfigError, match=f"memory: {memory} needs a CUDA device"):
        load_pipeline(str(tiny_models["wan"]), LoadOptions(memory=memory))
    loaded = load_pipeline(str(tiny_models["wan"]), LoadOptions(device="auto", dtype="auto"))
    assert loaded.options.dtype == "float32" and loaded.options.device == "cpu"
    with pytest.raises(ConfigError, match="CUDA is not available"):
        load_pipeline(str(tiny_models["wan"]), LoadOptions(device="cuda"))


@pytest.mark.slow
def test_regional_compile_renders_the_same_frames(tiny_models) -> None:
    plain = render_take(load_pipeline(str(tiny_models["wan"])), _request(seed=5), fps=16).frames
    loaded = load_pipeline(str(tiny_models["wan"]), LoadOptions(compile=True))
    compiled = render_take(loaded, _request(seed=5), fps=16).frames
    assert np.abs(plain.astype(int) - compiled.astype(int)).max() <= 3


def _bad_dir(tmp_path: Path, tiny_models, kind: str) -> Path:
    target = tmp_path / kind
    if kind == "missing":
        return target
    if kind == "empty":
        target.mkdir()
        return target
    shutil.copytree(tiny_models["wan"], target)
    if kind == "unsupported":
        index = json.loads((target / "model_index.json").read_text())
        index["_class_name"] = "StableDiffusionPipeline"
        (target / "model_index.json").write_text(json.dumps(index))
    if kind == "bin":
        weights = next((target / "transformer").glob("*.safetensors"))
        weights.rename(weights.with_suffix(".bin"))
    return target


@pytest.mark.parametrize(
    ("kind", "needle"),
    [
        ("missing", "does not exist"),
        ("empty", "not a diffusers pipeline"),
        ("unsupported", "unsupported pipeline 'StableDiffusionPipeline'"),
        ("bin", "no safetensors weights"),
    ],
)
def test_bad_model_dirs_fail_clearly_and_write_nothing(tmp_path: Path, tiny_models, kind: str, needle: str) -> None:
    target = _bad_dir(tmp_path, tiny_models, kind)
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(ModelLoadError, match=needle):
        load_pipeline(str(target))
    assert sorted(tmp_path.rglob("*")) == before


def test_text_to_image_keyframe_from_a_local_pipeline(tmp_path: Path) -> None:
    from generation.tiny import make_tiny

    model = make_tiny(tmp_path / "pixart", "pixart")
    first = from_text("a red circle", 64, 64, 5, str(model), has_t2v=True)
    again = from_text("a red circle", 64, 64, 5, str(model), has_t2v=True)
    other = from_text("a red circle", 64, 64, 6, str(model), has_t2v=True)
    assert first.source == "t2i" and not first.text_only  # a keyframe beats the T2V mode
    assert first.image.shape == (64, 64, 3) and first.image.dtype == np.uint8
    assert np.array_equal(first.image, again.image) and not np.array_equal(first.image, other.image)
    with pytest.raises(ModelLoadError, match="not a diffusers pipeline"):
        from_text("x", 64, 64, 0, str(tmp_path / "nope"), has_t2v=False)
