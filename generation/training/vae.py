"""Stage 1: a tiny Wan VAE (`AutoencoderKLWan`) trained to reconstruct world clips.

Trained in three phases on 32×32 crops of 17-frame 64×64 clips (the network is convolutional, so
crops keep the shapes' scale at a quarter of the cost): first on 5-frame windows (the causal VAE
encodes the first frame alone, then chunks of four), then on 9- and 17-frame windows, so that
chunks also learn to follow other chunks' cached features — without those phases frames after
the fifth (then after the ninth) decode to mush (≈ 10 dB). Judged by PSNR on whole 17-frame
64×64 clips of held-out captions. A fourth phase fine-tunes the decoder alone on whole 64×64
clips of the video stage's length and speed, with the shapes' pixels weighted up (a blurred
shape loses its colour; the background is easy): the encoder is frozen, so the latent space —
and a video model trained on it — stays the same (the world's 9-frame clips keep their motion
through the round trip in every one of the benchmark's 40 held-out cases after two rounds of it,
90 % after one, 58 % before; 9-frame PSNR goes 21.8 → 22.1 dB from round one to two while
17-frame PSNR falls, 23.3 → 18.8 dB over both, frames past the ninth traded for the shapes).
``--decoder-base-dim`` runs that phase on a fresh decoder wider than the encoder instead (same
latent space); not used for the committed weights (see benchmarks/README.md).
The latent statistics are written into the config (``latents_mean`` / ``latents_std``), as Wan's
own VAE carries them, so the pipeline normalises latents the same way in training and inference.
The figures above are of Wan's own layout (8× space, 4× time), the first demo VAE's. The
committed VAE and the defaults use ``--layout 4x2 --window 9`` (4× space, 2× time; the first
phase on 9-frame windows, so the second is skipped): 25.0 dB on held-out 9- and 17-frame clips,
flat shapes back with their edges (benchmarks/README.md).

    python -m generation.training.vae --out build/demo-models
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

import numpy as np
import torch

from generation.training.common import THREADS_HELP, Checkpoint, fit, log, psnr, set_threads, step_rng, to_tensor
from generation.training.data import sample_clips
from generation.training.video_data import FRAMES as VIDEO_FRAMES
from generation.world import COLORS

VAE_CONFIG = dict(
    base_dim=8,
    z_dim=16,
    dim_mult=[1, 2, 4, 4],
    num_res_blocks=1,
    temperal_downsample=[False, True, True],
)
LAYOUTS = {
    "8x4": {},
    "4x2": dict(dim_mult=[1, 2, 4], temperal_downsample=[False, True], scale_factor_spatial=4, scale_factor_temporal=2),
}
"""Downsampling, space × time, over `VAE_CONFIG`: ``8x4`` is Wan's own (and the first demo
VAE's: soft, 22.1 dB on 9-frame clips); ``4x2``, the committed VAE's and `train`'s default, keeps
four times the latent pixels and twice the latent frames, so flat shapes come back with their
edges (trained from scratch on 9-frame windows: 25.0 dB; see benchmarks/README.md)."""

THREADS = 2
"""CPU threads by default: those the committed VAE was trained with (see `set_threads`)."""
LATENT_NOISE = 0.05
CROP = 32
SHAPE_WEIGHT = 4.0
"""Extra loss weight on pixels that are not the background, in the decoder phase."""


def build_vae(decoder_base_dim: int | None = None, layout: str = "8x4") -> torch.nn.Module:
    from diffusers import AutoencoderKLWan

    torch.manual_seed(0)
    return AutoencoderKLWan(**{**VAE_CONFIG, **LAYOUTS[layout]}, decoder_base_dim=decoder_base_dim)


def widened(vae: torch.nn.Module, decoder_base_dim: int, layout: str = "8x4") -> torch.nn.Module:
    """A VAE with ``vae``'s encoder (so the same latent space, and the video model still fits)
    and a fresh decoder of width ``decoder_base_dim``; ``post_quant_conv`` is carried over.
    ``layout``: ``vae``'s (`LAYOUTS`)."""
    wide = build_vae(decoder_base_dim, layout=layout).train()
    kept = {k: v for k, v in vae.state_dict().items() if not k.startswith("decoder.")}
    missing, unexpected = wide.load_state_dict(kept, strict=False)
    assert not unexpected and all(k.startswith("decoder.") for k in missing), (missing, unexpected)
    return wide


@torch.no_grad()
def reconstruct(vae: torch.nn.Module, x: torch.Tensor, chunk: int = 4) -> torch.Tensor:
    """Clips ``x`` (B, 3, F, H, W) encoded (posterior mode) and decoded, ``chunk`` at a time."""
    parts = [vae.decode(vae.encode(x[i : i + chunk]).latent_dist.mode()).sample for i in range(0, len(x), chunk)]
    return torch.cat(parts)


def held_out_clips(clips: int = 16, frames: int = 17) -> np.ndarray:
    """The held-out clips every VAE figure is measured on, uint8 (clips, frames, 64, 64, 3)."""
    return sample_clips(step_rng("vae-eval", 0), clips, frames=frames, split="eval")[0]


def evaluate(vae: torch.nn.Module, clips: int = 16, frames: int = 17) -> float:
    """Mean PSNR (dB) of ``frames``-frame reconstructions of held-out clips."""
    x = to_tensor(held_out_clips(clips, frames))
    return psnr(x, reconstruct(vae, x))


@torch.no_grad()
def latent_stats(vae: torch.nn.Module, clips: int = 64) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of latents of training clips."""
    video, _ = sample_clips(step_rng("vae-stats", 0), clips, frames=17)
    x = to_tensor(video)
    z = torch.cat([vae.encode(x[i : i + 8]).latent_dist.mode() for i in range(0, clips, 8)])
    dims = (0, 2, 3, 4)
    return z.mean(dims).tolist(), z.std(dims).clamp_min(1e-3).tolist()


def sharpen_decoder(
    vae: torch.nn.Module, out: Path, steps: int, batch: int = 8, lr: float = 3e-4, checkpoint_every: int = 200, round_: int = 0
) -> None:
    """Phase 4: the decoder alone on whole clips as the video stage makes them, shapes weighted up.

    Round ``round_`` (from 0) is a warm restart on the next ``steps`` batches: round 1 draws the
    batches that steps ``steps`` to ``2 × steps − 1`` of one long run would. A decoder wider than
    the encoder (see `widened`) checkpoints under ``vae-wide-decoder`` instead of ``vae-decoder``.
    """
    vae.encoder.requires_grad_(False)
    vae.quant_conv.requires_grad_(False)
    decoder = [*vae.decoder.parameters(), *vae.post_quant_conv.parameters()]
    optimizer = torch.optim.AdamW(decoder, lr=lr, weight_decay=0.0)

    def loss_at(step: int) -> tuple[torch.Tensor, dict[str, float]]:
        clips, specs = sample_clips(step_rng("vae-decoder", round_ * steps + step), batch, frames=VIDEO_FRAMES)
        x = to_tensor(clips)
        background = to_tensor(np.array([COLORS[s.background] for s in specs], dtype=np.uint8)[:, None, None, None])
        weight = 1 + SHAPE_WEIGHT * ((x - background).abs().sum(1, keepdim=True) > 0.1).float()
        with torch.no_grad():
            z = vae.encode(x).latent_dist.mode()
        z = z + LATENT_NOISE * torch.randn(z.shape, generator=torch.Generator().manual_seed(step))
        y = vae.decode(z).sample
        error = y - x
        loss = (weight * (error.abs() + error**2)).mean()
        return loss, {"psnr": psnr(x, y.detach())}

    wide = vae.config.decoder_base_dim not in (None, vae.config.base_dim)
    stage = ("vae-wide-decoder" if wide else "vae-decoder") + (f"-{round_ + 1}" if round_ else "")
    fit(
        stage, vae, optimizer, loss_at, steps=steps, lr=lr,
        checkpoint=Checkpoint(out / "checkpoints" / stage, every=checkpoint_every),
        warmup=50, clip_grad=1.0, log_every=50,
    )
    vae.requires_grad_(True)


def train(
    out: Path,
    steps: int = 5000,
    batch: int = 16,
    lr: float = 3e-4,
    threads: int | None = None,
    until: int | None = None,
    checkpoint_every: int = 200,
    long_steps: int = 1000,
    decoder_steps: int = 1000,
    decoder_rounds: int = 2,
    decoder_base_dim: int | None = None,
    decoder_lr: float | None = None,
    layout: str = "4x2",
    window: int = 9,
) -> Path | None:
    """Train (resuming if a checkpoint exists) and save ``<out>/vae``; returns that folder.

    ``decoder_base_dim`` (default: the encoder's width) trains phase 4 on a fresh, wider decoder
    (at ``decoder_lr``, default ``lr``); the committed weights use the default. ``layout`` is a
    key of `LAYOUTS`; ``window`` the first phase's clip length (frames); a longer-window phase
    no longer than it, or of 0 steps, is skipped.
    """
    set_threads(threads, THREADS)
    vae = build_vae(layout=layout).train()
    optimizer = torch.optim.AdamW(vae.parameters(), lr=lr, weight_decay=0.0)
    checkpoint = Checkpoint(out / "checkpoints" / "vae", every=checkpoint_every)

    def loss_at(step: int, frames: int = 5, stage: str = "vae") -> tuple[torch.Tensor, dict[str, float]]:
        rng = step_rng(stage, step)
        clips, _ = sample_clips(rng, batch, frames=17)
        t, top, left = (int(v) for v in rng.integers(0, [18 - frames, CROP + 1, CROP + 1]))
        x = to_tensor(clips[:, t : t + frames, top : top + CROP, left : left + CROP])
        # Decode the mean plus a little fixed-scale noise, so the decoder learns to tolerate
        # imprecise latents (sampling the posterior, whose variance starts at one, trains
        # nothing for hundreds of steps).
        z = vae.encode(x).latent_dist.mode()
        z = z + LATENT_NOISE * torch.randn(z.shape, generator=torch.Generator().manual_seed(step))
        y = vae.decode(z).sample
        loss = (y - x).abs().mean() + ((y - x) ** 2).mean() + 1e-4 * z.pow(2).mean()
        return loss, {"psnr": psnr(x, y.detach())}

    first = partial(loss_at, frames=window)
    done = fit(
        "vae", vae, optimizer, first, steps=steps, lr=lr, checkpoint=checkpoint, until=until,
        clip_grad=1.0, log_every=50,
    )
    if not done:
        return None
    # Longer windows, each phase from the previous one's weights with a fresh optimiser.
    for stage, frames, count in (("vae-long", 9, long_steps), ("vae-full", 17, long_steps * 2 // 5)):
        if not count or frames <= window:
            continue
        optimizer = torch.optim.AdamW(vae.parameters(), lr=lr / 3, weight_decay=0.0)
        fit(
            stage, vae, optimizer, lambda step, f=frames, s=stage: loss_at(step, frames=f, stage=s),
            steps=count, lr=lr / 3, checkpoint=Checkpoint(out / "checkpoints" / stage, every=checkpoint_every),
            warmup=50, clip_grad=1.0, log_every=50,
        )
    rounds = decoder_rounds if decoder_steps else 0
    if decoder_base_dim and rounds:
        vae = widened(vae, decoder_base_dim, layout)
    for round_ in range(rounds):
        sharpen_decoder(vae, out, decoder_steps, lr=decoder_lr or lr, checkpoint_every=checkpoint_every, round_=round_)
    vae.eval()
    log("vae held-out reconstructions", psnr_9_frames=evaluate(vae, frames=9), psnr_17_frames=evaluate(vae))
    mean, std = latent_stats(vae)
    vae.register_to_config(latents_mean=mean, latents_std=std)
    vae.save_pretrained(out / "vae", safe_serialization=True)
    return out / "vae"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/demo-models"))
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--long-steps", type=int, default=1000, help="phase 2 (9-frame windows); phase 3 (17) is 2/5 of it")
    parser.add_argument("--decoder-steps", type=int, default=1000, help="phase 4: the decoder alone on whole clips, per round")
    parser.add_argument("--decoder-rounds", type=int, default=2, help="phase 4's warm restarts (0 skips it)")
    parser.add_argument("--decoder-base-dim", type=int, default=None, help="phase 4 on a fresh decoder this wide (default: as the encoder)")
    parser.add_argument("--decoder-lr", type=float, default=None, help="phase 4's peak learning rate (default: as the first phase)")
    parser.add_argument("--layout", choices=sorted(LAYOUTS), default="4x2", help="downsampling, space x time")
    parser.add_argument("--window", type=int, default=9, help="phase 1's clip length in frames (1 + a multiple of 4)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=None, help=THREADS_HELP)
    parser.add_argument("--until", type=int, default=None, help="stop after this step; a later run resumes")
    args = parser.parse_args(argv)
    if args.decoder_base_dim is not None and args.decoder_base_dim < 1:
        parser.error(f"--decoder-base-dim must be a positive width, not {args.decoder_base_dim}")
    if args.window < 1 or args.window > 17 or (args.window - 1) % 4:
        parser.error(
            "--window must be 1, 5, 9, 13 or 17 frames (the VAE encodes one frame, then chunks of four), "
            f"not {args.window}"
        )
    train(
        args.out, args.steps, args.batch, threads=args.threads, until=args.until,
        long_steps=args.long_steps, decoder_steps=args.decoder_steps, decoder_rounds=args.decoder_rounds,
        decoder_base_dim=args.decoder_base_dim, decoder_lr=args.decoder_lr, layout=args.layout, window=args.window,
    )


if __name__ == "__main__":
    main()
