"""Training the demo models: deterministic, and a resumed run equals an uninterrupted one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from generation.training import clip
from generation.training.common import lr_at, step_rng


def test_step_data_depends_only_on_stage_and_step() -> None:
    a = step_rng("vae", 7).random(4)
    assert np.array_equal(a, step_rng("vae", 7).random(4))
    assert not np.array_equal(a, step_rng("vae", 8).random(4))
    assert not np.array_equal(a, step_rng("clip", 7).random(4))


def test_learning_rate_warms_up_then_decays() -> None:
    rates = [lr_at(s, 1000, 1e-3, warmup=100) for s in range(1000)]
    assert rates[0] < rates[99] == pytest.approx(1e-3)
    assert rates[-1] == pytest.approx(1e-4, rel=0.01)
    assert all(isinstance(r, float) for r in rates)  # checkpoints load with weights_only=True


@pytest.mark.slow
def test_clip_training_resumes_to_the_same_weights(tmp_path: Path) -> None:
    straight = clip.train(tmp_path / "a", steps=4, batch=8, threads=1, checkpoint_every=2)
    assert clip.train(tmp_path / "b", steps=4, batch=8, threads=1, until=2, checkpoint_every=2) is None
    assert torch.load(tmp_path / "b/checkpoints/clip/checkpoint.pt", weights_only=True)["step"] == 2
    resumed = clip.train(tmp_path / "b", steps=4, batch=8, threads=1, checkpoint_every=2)
    a = load_file(straight / "open_clip_model.safetensors")
    b = load_file(resumed / "open_clip_model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    fresh = clip.build_clip().state_dict()
    assert not torch.equal(a["visual.conv1.weight"], fresh["visual.conv1.weight"])  # it trained
