"""Training the demo transformer: its loss, its data and caches, its phases and its CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from generation.training.common import step_rng


def _zero_transformer(**inputs: torch.Tensor) -> tuple[torch.Tensor]:
    """Predicts zero velocity: the loss is then the target's own weighted square."""
    return (torch.zeros_like(inputs["hidden_states"][:, :16]),)


def _flow_batch(moving: bool) -> dict[str, torch.Tensor]:
    x0 = torch.zeros(2, 16, 3, 8, 8)
    x0[:, :, :, 2:4, 2:4] = 1.0  # a static shape
    if moving:
        x0[:, :, 1:, 2:4, 2:4] = 0.0
        x0[:, :, 1:, 2:4, 5:7] = 3.0  # ...that moved to the right
    return {"x0": x0, "cond": torch.zeros(2, 16, 3, 8, 8), "image": torch.zeros(2, 17, 16), "text": torch.zeros(2, 4, 64)}


def _weighted_loss(batch: dict[str, torch.Tensor], motion: float = 0.0, shape: float = 0.0) -> float:
    """`flow_loss` of `_zero_transformer` on ``batch`` at a fixed seed, with these weights."""
    from generation.training.video import TEXT_DIM, flow_loss

    empty = torch.zeros(512, TEXT_DIM)
    generator = torch.Generator().manual_seed(3)
    return flow_loss(_zero_transformer, batch, generator, empty, motion_weight=motion, shape_weight=shape).item()


def test_motion_weighted_flow_loss_counts_moving_pixels_more() -> None:
    moving, still = _flow_batch(moving=True), _flow_batch(moving=False)
    noise = torch.randn((2, 16, 3, 8, 8), generator=_after_uniform())
    assert _weighted_loss(moving, 0.0) == pytest.approx(((noise - moving["x0"]) ** 2).mean().item())  # plain MSE
    assert _weighted_loss(moving, 4.0) > 1.5 * _weighted_loss(moving, 0.0)  # the moved shape's error dominates
    assert _weighted_loss(still, 4.0) == pytest.approx(_weighted_loss(still, 0.0))  # nothing moves: plain MSE


def test_shape_weighted_flow_loss_counts_the_shapes_pixels_also_where_they_stay() -> None:
    still = _flow_batch(moving=False)
    # the static shape's error now counts
    assert _weighted_loss(still, 4.0, 4.0) > 1.5 * _weighted_loss(still, 4.0, 0.0)
    plain = {**still, "x0": torch.full_like(still["x0"], 0.5)}  # a plain background, no shape
    assert _weighted_loss(plain, 0.0, 4.0) == pytest.approx(_weighted_loss(plain, 0.0, 0.0))


def _after_uniform() -> torch.Generator:
    """The generator as `flow_loss` holds it when it draws the noise (after the timesteps)."""
    generator = torch.Generator().manual_seed(3)
    torch.rand(2, generator=generator)
    return generator


def test_pair_clips_are_two_shapes_a_third_meeting_deterministic_and_outside_the_held_out_captions() -> None:
    from generation.training.data import sample_pair_clips
    from generation.world import held_out

    video, specs = sample_pair_clips(step_rng("pairs", 0), 300, frames=5, size=32)
    again, _ = sample_pair_clips(step_rng("pairs", 0), 300, frames=5, size=32)
    assert video.shape == (300, 5, 32, 32, 3) and np.array_equal(video, again)
    assert all(len(s.actors) == 2 for s in specs)
    assert not any(held_out(s.caption()) for s in specs)
    motions = [s.motion for s in specs]
    assert 0.25 < motions.count("meet") / 300 < 0.42
    assert 0.25 < sum(m in ("left", "right", "up", "down") for m in motions) / 300 < 0.42
    _, evals = sample_pair_clips(step_rng("pairs", 0), 20, frames=5, size=32, split="eval")
    assert all(held_out(s.caption()) for s in evals)


def test_batches_of_two_caches_join_with_their_captions_padded_to_the_longer() -> None:
    from generation.training.video_data import concat_batches

    a = {"x0": torch.zeros(3, 16, 3, 8, 8), "text": torch.ones(3, 5, 4)}
    b = {"x0": torch.ones(2, 16, 3, 8, 8), "text": torch.full((2, 7, 4), 2.0)}
    joined = concat_batches(a, b)
    assert joined["x0"].shape == (5, 16, 3, 8, 8) and torch.equal(joined["x0"][3:], b["x0"])
    assert joined["text"].shape == (5, 7, 4)
    assert torch.equal(joined["text"][:3, :5], a["text"]) and not joined["text"][:3, 5:].any()
    assert torch.equal(joined["text"][3:], b["text"])


@pytest.mark.slow
def test_handoff_condition_is_the_round_tripped_first_frame_and_the_target_stays_clean() -> None:
    """The seventh phase's clips: the condition (VAE latents and image embedding) comes from the
    first frame after a VAE round trip, as a chained shot's hand-off frame does; the target is
    the clean clip."""
    from diffusers import AutoencoderKLWan

    from generation.tiny import trained_model
    from generation.training.data import sample_clips
    from generation.training.video import build_pipeline
    from generation.training.video_data import FRAMES, encode_clips, round_trip

    pipe = build_pipeline(AutoencoderKLWan.from_pretrained(trained_model() / "vae"))
    clips, specs = sample_clips(step_rng("handoff-test", 0), 2, frames=FRAMES)
    again = round_trip(pipe.vae, clips[:, 0])
    assert again.dtype == np.uint8 and again.shape == clips[:, 0].shape
    error = np.abs(again.astype(int) - clips[:, 0]).mean()
    assert 0 < error < 20  # softer, not another picture
    prompts = [s.caption() for s in specs]
    clean, handed = encode_clips(pipe, clips, prompts), encode_clips(pipe, clips, prompts, handoff=True)
    assert torch.equal(clean["x0"], handed["x0"]) and torch.equal(clean["text"], handed["text"])
    assert not torch.equal(clean["cond"], handed["cond"]) and not torch.equal(clean["image"], handed["image"])
    started_soft = np.concatenate([again[:, None], clips[:, 1:]], axis=1)
    assert torch.equal(handed["cond"], encode_clips(pipe, started_soft, prompts)["cond"])


def test_the_handoff_phase_runs_without_the_two_shape_phase(tmp_path: Path) -> None:
    """``--pair-steps 0`` still leaves the hand-off phase its two-shape half of each batch."""
    from generation.training import video
    from generation.training.vae import build_vae

    build_vae().save_pretrained(tmp_path / "vae")
    saved = video.train(
        tmp_path, steps=2, batch=2, clips=4, eval_clips=2, threads=1, checkpoint_every=2, long_steps=0,
        motion_steps=0, polish_steps=0, pair_steps=0, pair_clips=4, handoff_steps=2, handoff_clips=4,
    )
    assert (saved / "model_index.json").is_file()
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["video", "video-handoff"]
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [
        "video-eval-2x9.pt", "video-handoff-train-4x9.pt", "video-pairs-train-4x9.pt", "video-train-4x9.pt"
    ]


def test_the_transformer_fits_the_vaes_layout() -> None:
    """The committed layout (8× space, 4× time) keeps the committed transformer's config; the 4×/2×
    VAE gets two mask channels, its 16×16 latents a 2×2 patch (a token still covers 8×8 pixels)."""
    from generation.training.vae import build_vae
    from generation.training.video import TRANSFORMER_CONFIG, transformer_config

    assert transformer_config(build_vae().config) == TRANSFORMER_CONFIG
    compact = build_vae(layout="4x2").eval()
    fitted = transformer_config(compact.config)
    assert (fitted["in_channels"], fitted["out_channels"], fitted["patch_size"]) == (34, 16, (1, 2, 2))
    x = torch.rand(1, 3, 9, 32, 32) * 2 - 1
    with torch.no_grad():
        z = compact.encode(x).latent_dist.mode()
        assert z.shape == (1, 16, 5, 8, 8)  # first frame, then two latent frames per chunk of four
        assert compact.decode(z).sample.shape == x.shape


def test_a_video_model_trains_on_a_4x2_vae_and_renders_through_the_real_paths(tmp_path: Path) -> None:
    from generation.loading import load_pipeline
    from generation.training import video
    from generation.training.quality import render
    from generation.training.vae import build_vae
    from generation.world import Actor, draw_frame

    build_vae(layout="4x2").save_pretrained(tmp_path / "vae")
    saved = video.train(
        tmp_path, steps=2, batch=2, clips=4, eval_clips=2, threads=1, checkpoint_every=2, long_steps=0,
        motion_steps=2, polish_steps=0, pair_steps=0, pair_clips=4, handoff_steps=2, handoff_clips=4,
    )
    loaded = load_pipeline(str(saved))
    assert loaded.pipe.transformer.config.in_channels == 34
    frame = draw_frame((Actor("circle", "red", 0.3, 0.5),), "green")
    frames = render(loaded, frame, "a red circle moves right on a green background.", seed=1, steps=2)
    assert frames.shape == (9, 64, 64, 3) and frames.dtype == np.uint8


def test_video_training_goes_on_from_saved_weights_as_if_the_stages_before_had_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from safetensors.torch import load_file

    from generation.training import video
    from generation.training.vae import build_vae

    out = tmp_path / "run"
    build_vae().save_pretrained(out / "vae")
    transformer = video.build_pipeline(build_vae()).transformer
    with torch.no_grad():
        for p in transformer.parameters():
            p.add_(0.01)  # not the seeded initial weights
    transformer.save_pretrained(tmp_path / "staged")
    phases = dict(steps=2, long_steps=3, motion_steps=0, polish_steps=0, pair_steps=0, handoff_steps=0)
    saved = video.train(
        out, batch=2, clips=4, eval_clips=2, threads=1, checkpoint_every=2, **phases,
        start_from=tmp_path / "staged", start_after="video-long",
    )
    assert "video-long: laid down" in capsys.readouterr().out
    weights = load_file(saved / "transformer" / "diffusion_pytorch_model.safetensors")
    assert all(torch.equal(weights[k], v) for k, v in transformer.state_dict().items())  # no step re-run
    checkpoints = (out / "checkpoints").iterdir()
    steps = {p.name: torch.load(p / "checkpoint.pt", weights_only=True)["step"] for p in checkpoints}
    assert steps == {"video": 2, "video-long": 3}


def test_video_cli_wants_start_from_and_start_after_together(capsys: pytest.CaptureFixture[str]) -> None:
    from generation.training import video

    with pytest.raises(SystemExit) as exit_:
        video.main(["--start-after", "video-long"])
    assert exit_.value.code == 2 and "--start-from and --start-after go together" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        video.main(["--start-from", "/nonexistent", "--start-after", "video"])
    assert "not a saved transformer folder (no config.json)" in capsys.readouterr().err


def test_video_cli_refuses_weights_that_do_not_fit_the_vae(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A transformer trained on the committed VAE's latents cannot go on with a 4×/2× VAE."""
    from generation.training import video
    from generation.training.vae import build_vae

    build_vae(layout="4x2").save_pretrained(tmp_path / "vae")
    video.build_pipeline(build_vae()).transformer.save_pretrained(tmp_path / "old")
    args = ["--out", str(tmp_path), "--clips", "4", "--threads", "1", "--start-from", str(tmp_path / "old")]
    with pytest.raises(SystemExit) as exit_:
        video.main([*args, "--start-after", "video"])
    assert exit_.value.code == 2
    assert "its tensors do not fit this VAE's transformer" in capsys.readouterr().err
    assert not (tmp_path / "checkpoints" / "video").exists()  # nothing laid down


def test_video_cli_trains_a_transformer_of_the_sizes_asked_for(tmp_path: Path) -> None:
    """``--layers/--heads/--head-dim/--ffn`` size the transformer it trains and saves, on the
    device ``--device`` names."""
    from diffusers import WanTransformer3DModel

    from generation.training import video
    from generation.training.vae import build_vae

    build_vae(layout="4x2").save_pretrained(tmp_path / "vae")
    phases = ["--steps", "2", "--long-steps", "0", "--motion-steps", "0", "--polish-steps", "0", "--pair-steps", "0",
              "--handoff-steps", "0"]
    sizes = ["--layers", "1", "--heads", "2", "--head-dim", "12", "--ffn", "32"]
    video.main(["--out", str(tmp_path), "--clips", "4", "--batch", "2", "--threads", "1", "--device", "cpu", *phases, *sizes])
    config = WanTransformer3DModel.load_config(tmp_path / "tiny-wan-i2v" / "transformer")
    assert (config["num_layers"], config["num_attention_heads"], config["attention_head_dim"], config["ffn_dim"]) == (1, 2, 12, 32)
    assert config["in_channels"] == 34


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal where there is no CUDA")
def test_video_cli_refuses_cuda_where_there_is_none(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from generation.training import video
    from generation.training.vae import build_vae

    build_vae(layout="4x2").save_pretrained(tmp_path / "vae")
    with pytest.raises(SystemExit) as exit_:
        video.main(["--out", str(tmp_path), "--device", "cuda"])
    assert exit_.value.code == 2
    assert "device 'cuda' asked for but CUDA is not available here; use cpu" in capsys.readouterr().err
    assert not (tmp_path / "cache").exists()  # refused before anything was encoded


def test_transformer_config_refuses_a_size_it_does_not_know() -> None:
    from generation.training.vae import build_vae
    from generation.training.video import transformer_config

    with pytest.raises(ValueError, match="not a transformer size: patch_size"):
        transformer_config(build_vae().config, patch_size=(1, 4, 4))
