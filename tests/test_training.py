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
    straight = clip.train(tmp_path / "a", steps=4, batch=8, threads=2, checkpoint_every=2)
    assert clip.train(tmp_path / "b", steps=4, batch=8, threads=2, until=2, checkpoint_every=2) is None
    assert torch.load(tmp_path / "b/checkpoints/clip/checkpoint.pt", weights_only=True)["step"] == 2
    resumed = clip.train(tmp_path / "b", steps=4, batch=8, threads=2, checkpoint_every=2)
    a = load_file(straight / "open_clip_model.safetensors")
    b = load_file(resumed / "open_clip_model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    fresh = clip.build_clip().state_dict()
    assert not torch.equal(a["visual.conv1.weight"], fresh["visual.conv1.weight"])  # it trained
    # the thread count changes the float sums: by default each stage uses its committed weights' count
    default = clip.train(tmp_path / "c", steps=4, batch=8, checkpoint_every=2)
    default = load_file(default / "open_clip_model.safetensors")
    assert clip.THREADS == 2 and all(torch.equal(a[k], default[k]) for k in a)
    other = load_file(clip.train(tmp_path / "d", steps=4, batch=8, threads=1) / "open_clip_model.safetensors")
    assert not all(torch.equal(a[k], other[k]) for k in a)


@pytest.mark.slow
def test_decoder_phase_keeps_the_latent_space(tmp_path: Path) -> None:
    from generation.training.vae import build_vae, sharpen_decoder

    vae = build_vae().train()
    before = {k: v.clone() for k, v in vae.state_dict().items()}
    sharpen_decoder(vae, tmp_path, steps=2, batch=2, checkpoint_every=2)
    after = vae.state_dict()
    encoder = [k for k in before if k.startswith(("encoder.", "quant_conv."))]
    decoder = [k for k in before if k.startswith(("decoder.", "post_quant_conv.")) and k.endswith("weight")]
    assert encoder and all(torch.equal(before[k], after[k]) for k in encoder)
    assert any(not torch.equal(before[k], after[k]) for k in decoder)
    assert (tmp_path / "checkpoints/vae-decoder/checkpoint.pt").is_file()
    assert all(p.requires_grad for p in vae.parameters())  # the encoder is trainable again


@pytest.mark.slow
def test_decoder_round_two_draws_the_next_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A warm restart trains on the batches that a longer first round would have drawn next, and
    checkpoints apart from round one (so resuming either does not pick up the other)."""
    from generation.training import vae as vae_module

    drawn: list[tuple[str, int]] = []
    real = vae_module.step_rng
    monkeypatch.setattr(vae_module, "step_rng", lambda stage, step: drawn.append((stage, step)) or real(stage, step))
    model = vae_module.build_vae().train()
    vae_module.sharpen_decoder(model, tmp_path, steps=2, batch=2, checkpoint_every=2, round_=1)
    assert drawn == [("vae-decoder", 2), ("vae-decoder", 3)]
    assert (tmp_path / "checkpoints/vae-decoder-2/checkpoint.pt").is_file()
    assert not (tmp_path / "checkpoints/vae-decoder").exists()


def test_widened_vae_keeps_the_encoder_and_latents_and_widens_the_decoder() -> None:
    from generation.training.vae import VAE_CONFIG, build_vae, widened

    narrow = build_vae().eval()
    with torch.no_grad():
        for p in narrow.parameters():  # not the build seed's weights, which `widened` would also draw
            p.add_(0.01 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    wide = widened(narrow, 2 * VAE_CONFIG["base_dim"]).eval()
    assert wide.config.decoder_base_dim == 16
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(wide.decoder) > 2 * count(narrow.decoder)
    x = torch.rand(1, 3, 5, 32, 32) * 2 - 1
    with torch.no_grad():
        z_narrow, z_wide = narrow.encode(x).latent_dist.mode(), wide.encode(x).latent_dist.mode()
        assert torch.equal(z_narrow, z_wide)  # the same latent space: the video model still fits
        assert wide.decode(z_wide).sample.shape == narrow.decode(z_narrow).sample.shape == x.shape


@pytest.mark.slow
def test_vae_training_with_a_wider_decoder_keeps_the_encoder_and_saves_it(tmp_path: Path) -> None:
    from diffusers import AutoencoderKLWan

    from generation.training import vae as vae_module

    saved = vae_module.train(
        tmp_path, steps=2, batch=2, threads=1, long_steps=5, decoder_steps=2, decoder_rounds=1, decoder_base_dim=16, checkpoint_every=2
    )
    loaded = AutoencoderKLWan.from_pretrained(saved)
    assert loaded.config.decoder_base_dim == 16
    assert len(loaded.config.latents_mean) == vae_module.VAE_CONFIG["z_dim"]
    phase3 = torch.load(tmp_path / "checkpoints/vae-full/checkpoint.pt", weights_only=True)["model"]
    encoder = {k: v for k, v in phase3.items() if k.startswith(("encoder.", "quant_conv."))}
    assert encoder and all(torch.equal(loaded.state_dict()[k], v) for k, v in encoder.items())
    assert (tmp_path / "checkpoints/vae-wide-decoder/checkpoint.pt").is_file()


def test_vae_cli_refuses_a_decoder_width_below_one(capsys: pytest.CaptureFixture[str]) -> None:
    from generation.training import vae as vae_module

    with pytest.raises(SystemExit) as exit_:
        vae_module.main(["--decoder-base-dim", "0"])
    assert exit_.value.code == 2
    assert "--decoder-base-dim must be a positive width, not 0" in capsys.readouterr().err


@pytest.mark.slow
def test_train_demo_models_runs_every_stage_and_installs_models_that_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make train-demo-models` end to end (`python -m generation.training --install`), every
    phase of every stage cut to two steps: what it installs loads and renders through the real
    paths, and a second run skips the finished stages."""
    from functools import partial

    from consistency.embedder import load_embedder
    from generation.loading import load_pipeline
    from generation.training import __main__ as training
    from generation.training import vae, video
    from generation.training.quality import render
    from generation.world import Actor, draw_frame

    short = dict(steps=2, batch=2, checkpoint_every=2)
    monkeypatch.setattr(vae, "train", partial(vae.train, **short, long_steps=5, decoder_steps=2))
    phases = dict(long_steps=2, motion_steps=2, polish_steps=2, shape_steps=2, pair_steps=2, handoff_steps=2)
    sizes = dict(clips=4, eval_clips=2, pair_clips=4, handoff_clips=4)
    monkeypatch.setattr(video, "train", partial(video.train, **short, **sizes, **phases))
    monkeypatch.setattr(clip, "train", partial(clip.train, **{**short, "batch": 4}))
    out, weights = tmp_path / "out", tmp_path / "weights"
    training.main(["--out", str(out), "--install", str(weights), "--threads", "1"])
    stages = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert stages == sorted(
        ["vae", "vae-full", "vae-decoder", "vae-decoder-2", "video", "video-long", "video-more",
         "video-polish", "video-shape", "video-pairs", "video-handoff", "clip"]
    )
    assert sorted(p.name for p in weights.iterdir()) == ["tiny-clip", "tiny-wan-i2v"]

    loaded = load_pipeline(str(weights / "tiny-wan-i2v"))
    assert loaded.family == "wan" and loaded.pipe.vae.config.latents_std != [1.0] * 16
    frame = draw_frame((Actor("circle", "red", 0.3, 0.5),), "green")
    clip_frames = render(loaded, frame, "a red circle moves right on a green background.", seed=1, steps=2)
    assert clip_frames.shape == (9, 64, 64, 3)
    embedder = load_embedder(f"local-dir:{weights / 'tiny-clip'}")
    assert embedder.embed_images(frame[None]).shape[0] == 1

    capsys.readouterr()
    training.main(["--out", str(out), "--install", str(weights), "--threads", "1"])
    assert capsys.readouterr().out.count("exists, skipped") == 3


def test_compare_weights_reports_identical_and_drifted_tensors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], benchmark_module
) -> None:
    import shutil

    from safetensors.torch import save_file

    compare = benchmark_module("compare_weights")
    from generation.tiny import trained_scorer

    original, copy = Path(trained_scorer()), tmp_path / "copy"
    shutil.copytree(original, copy)
    (same,) = compare.compare_folders(copy, original)
    assert same.identical == same.tensors > 0 and same.max_abs == 0.0
    state = load_file(copy / "open_clip_model.safetensors")
    name = sorted(state)[0]
    state[name] = state[name] + 0.25
    save_file(state, copy / "open_clip_model.safetensors")
    (drift,) = compare.compare_folders(copy, original)
    assert drift.identical == drift.tensors - 1 and drift.max_abs == pytest.approx(0.25, rel=1e-3) and drift.mean_rel > 0
    assert compare.main([str(copy), str(original)]) == 0
    assert f"{drift.tensors - 1}/{drift.tensors} tensors identical" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    assert compare.main([str(tmp_path / "empty"), str(original)]) == 1
    assert "no safetensors files" in capsys.readouterr().err


def test_two_shape_checks_pass_the_worlds_clips_and_fail_wrong_ones() -> None:
    from generation.training.quality import keeps_colours, pair_cases, pair_moved_as_told
    from generation.world import COLORS, actor_at, draw_frame, render_clip

    cases = pair_cases(8)
    assert [c.spec.motion for c in cases[:4]] == ["meet", "left", "meet", "right"]
    assert all(len(c.spec.actors) == 2 for c in cases)
    for case in cases:
        spec, colors = case.spec, [a.color for a in case.spec.actors]
        clip = render_clip(spec, 9)
        assert pair_moved_as_told(clip, spec) and keeps_colours(clip, clip, colors)
        assert not pair_moved_as_told(clip[::-1], spec)  # apart, or the other way
        first, second = spec.actors
        alone = np.stack([
            draw_frame((actor_at(first, spec.motion, t, toward=np.sign(second.x - first.x)), second), spec.background)
            for t in np.linspace(0, 1, 9)
        ])
        assert not pair_moved_as_told(alone, spec)  # the second shape stays put
        faded = clip.copy()
        faded[-1][np.all(clip[-1] == COLORS[colors[1]], axis=-1)] = COLORS[spec.background]
        assert not keeps_colours(faded, clip, colors)


@pytest.mark.parametrize("motion", ["right", "up", "grows", "shrinks", "meet"])
def test_a_shot_does_as_told_on_the_worlds_clip_and_not_on_a_wrong_one(motion: str) -> None:
    from generation.training.quality import shot_as_told
    from generation.world import COLORS, render_clip, sample_spec

    spec = sample_spec(np.random.default_rng(3), actors=2 if motion == "meet" else 1, motion=motion)
    clip = render_clip(spec, 9)
    assert shot_as_told(clip, spec.caption() + ".") == {"moved": True, "kept": True}
    assert shot_as_told(clip[::-1], spec.caption())["moved"] is False  # the other way, apart, shrinks, grows
    faded = clip.copy()
    color = spec.actors[-1].color
    faded[4:][np.all(clip[4:] == COLORS[color], axis=-1)] = COLORS[spec.background]
    assert shot_as_told(faded, spec.caption())["kept"] is False  # a shape loses its colour halfway


def test_spins_and_bounces_are_not_measured_and_other_text_is_refused() -> None:
    from generation.training.quality import shot_as_told
    from generation.world import ClipSpec, Actor, render_clip

    spec = ClipSpec((Actor("star", "pink"),), "spins", "black")
    assert shot_as_told(render_clip(spec, 9), spec.caption()) == {"moved": None, "kept": True}
    with pytest.raises(ValueError, match="not a caption of the world"):
        shot_as_told(render_clip(spec, 9), "a pink star spins in the dark")


@pytest.mark.slow
def test_vae_training_in_the_4x2_layout_skips_windows_no_longer_than_the_first(tmp_path: Path) -> None:
    from diffusers import AutoencoderKLWan

    from generation.training import vae as vae_module

    saved = vae_module.train(
        tmp_path, steps=2, batch=2, threads=1, long_steps=5, decoder_rounds=0, layout="4x2", window=9,
        checkpoint_every=2,
    )
    loaded = AutoencoderKLWan.from_pretrained(saved)
    assert (loaded.config.scale_factor_spatial, loaded.config.scale_factor_temporal) == (4, 2)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["vae", "vae-full"]


@pytest.mark.parametrize("window", ["6", "0", "21"])
def test_vae_cli_refuses_a_window_the_vae_cannot_chunk(window: str, capsys: pytest.CaptureFixture[str]) -> None:
    from generation.training import vae as vae_module

    with pytest.raises(SystemExit) as exit_:
        vae_module.main(["--window", window])
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert "--window must be 1, 5, 9, 13 or 17 frames (the VAE encodes one frame, then chunks of four)" in error
    assert error.rstrip().endswith(f"not {window}")
