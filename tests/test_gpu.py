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


def test_model_cpu_offload_renders(tiny_models) -> None:
    loaded = load_pipeline(str(tiny_models["wan"]), LoadOptions(device="cuda", dtype="bfloat16", cpu_offload=True))
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
