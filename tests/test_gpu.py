"""GPU-only checks (skipped without CUDA): bf16 default, offload, determinism on the device."""

from __future__ import annotations

import numpy as np
import pytest

from generation.frames import neutral_frame
from generation.loading import load_pipeline
from generation.render import render_take
from generation.types import LoadOptions, RenderRequest

pytestmark = pytest.mark.gpu


def _request(seed: int = 0) -> RenderRequest:
    return RenderRequest("a red circle moves right", "", neutral_frame(64, 64), 64, 64, 17, 4, 5.0, seed)


def test_cuda_defaults_to_bf16_and_is_deterministic(tiny_models) -> None:
    loaded = load_pipeline(str(tiny_models["wan"]), LoadOptions(device="auto", dtype="auto"))
    assert loaded.options.device == "cuda" and loaded.options.dtype == "bfloat16"
    assert str(next(loaded.pipe.vae.parameters()).dtype) == "torch.float32"  # VAE kept in fp32
    a = render_take(loaded, _request(3), 16).frames
    b = render_take(loaded, _request(3), 16).frames
    assert np.array_equal(a, b) and a.shape == (17, 64, 64, 3)


@pytest.mark.parametrize("memory", ["model_offload", "group_offload", "fp8_storage"])
def test_memory_modes_render_on_cuda(tiny_models, memory: str) -> None:
    loaded = load_pipeline(str(tiny_models["wan"]), LoadOptions(device="cuda", dtype="bfloat16", memory=memory))
    assert loaded.memory == memory
    assert render_take(loaded, _request(), 16).frames.shape == (17, 64, 64, 3)


@pytest.mark.parametrize("cache", ["first_block", "taylorseer", "pyramid"])
def test_cache_hooks_skip_work_on_cuda(tiny_models, cache: str) -> None:
    loaded = load_pipeline(str(tiny_models["wan"]), LoadOptions(device="cuda", dtype="bfloat16", cache=cache, cache_threshold=0.5))
    result = render_take(loaded, RenderRequest("x", "", neutral_frame(64, 64), 64, 64, 17, 10, 5.0, 0), 16)
    assert result.cache_skipped > 0.1


def test_video_training_runs_on_cuda_and_saves_a_pipeline_that_renders(tmp_path) -> None:
    """The demo transformer's trainer on the GPU (as the committed one was trained): caches
    encoded there, a few steps of two phases, the saved pipeline loads and renders."""
    from generation.training import video
    from generation.training.quality import render
    from generation.training.vae import build_vae
    from generation.world import Actor, draw_frame

    build_vae(layout="4x2").save_pretrained(tmp_path / "vae")
    saved = video.train(
        tmp_path, steps=2, batch=4, clips=8, eval_clips=4, checkpoint_every=2, long_steps=0, motion_steps=2,
        polish_steps=0, pair_steps=0, handoff_steps=2, pair_clips=8, handoff_clips=8, device="cuda",
    )
    loaded = load_pipeline(str(saved), LoadOptions(device="cuda"))
    frame = draw_frame((Actor("circle", "red", 0.3, 0.5),), "black")
    frames = render(loaded, frame, "a red circle moves right on a black background.", seed=1, steps=2)
    assert frames.shape == (9, 64, 64, 3)


def test_lora_hot_swap_on_cuda(tiny_models, tmp_path) -> None:
    """Switching LoRAs between shots on the GPU: no reload, and off again is the plain model."""
    import dataclasses

    from generation.loras import LoraFile
    from storage.artifacts import sha256_file
    from tests.test_loras import make_lora

    files = [make_lora(tiny_models["wan"], tmp_path / f"{name}.safetensors", seed) for name, seed in (("a", 1), ("b", 2))]
    a, b = (LoraFile(str(f), sha256_file(f), 1.0) for f in files)
    loaded = load_pipeline(str(tiny_models["wan"]), LoadOptions(device="cuda", dtype="float32", cache_threshold=0.0271))
    plain = render_take(loaded, _request(), 16).frames
    with_a = render_take(loaded, dataclasses.replace(_request(), loras=(a,)), 16).frames
    with_b = render_take(loaded, dataclasses.replace(_request(), loras=(b,)), 16).frames
    off = render_take(loaded, _request(), 16).frames
    assert not np.array_equal(with_a, plain) and not np.array_equal(with_a, with_b)
    assert np.array_equal(off, plain) and dict(loaded.lora_loads) == {a.sha256: 1, b.sha256: 1}
