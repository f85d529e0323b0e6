"""How sharp is a demo VAE? Reconstruction figures on held-out clips of the synthetic world.

    python benchmarks/vae_quality.py [VAE_DIR ...] [--clips 16] [--cases 40]

For each VAE folder (default: the committed ``model: tiny`` VAE), loaded with
``AutoencoderKLWan.from_pretrained`` as the pipeline loads it:

- PSNR of held-out 9-frame clips (the video model's length) and 17-frame clips;
- where the squared error sits: pixels within one pixel of a shape's edge, the flat background,
  the shapes' insides — each region's share of the error and its own PSNR (blurred edges are
  what "soft" means here: squares and stars that come back as blobs);
- the ceilings the VAE sets on `benchmarks/demo_quality.py`: held-out single-shape clips whose
  shape still moves the named way after a round trip (a), two-shape clips in which both
  colours keep half their area (d);
- size (parameters, MB of fp32 weights) and seconds per 9-frame round trip on this machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from generation.tiny import trained_model  # noqa: E402
from generation.training.common import decibels, to_tensor  # noqa: E402
from generation.training.quality import (  # noqa: E402
    FRAMES,
    keeps_colours,
    motion_cases,
    pair_cases,
    roundtrip,
    roundtrip_accuracy,
)
from generation.training.vae import evaluate, held_out_clips, reconstruct  # noqa: E402
from generation.world import render_clip  # noqa: E402


def regions(clips: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean masks (B, F, H, W) of ``clips``: ``edge`` — a pixel whose 3×3 neighbourhood is not
    one colour; ``background`` — the rest that has the frame's corner colour; ``inside`` — the rest."""
    padded = np.pad(clips.astype(np.int16), ((0, 0), (0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    h, w = clips.shape[2:4]
    edge = np.zeros(clips.shape[:4], dtype=bool)
    for dy in range(3):
        for dx in range(3):
            edge |= (padded[:, :, dy : dy + h, dx : dx + w] != clips).any(-1)
    background = (clips == clips[:, :, :1, :1]).all(-1) & ~edge
    return {"edge": edge, "background": background, "inside": ~edge & ~background}


def error_split(vae: torch.nn.Module, clips: int) -> tuple[float, dict[str, tuple[float, float, float]]]:
    """PSNR of the held-out `FRAMES`-frame clips, and per region (share of pixels, share of the
    squared error, PSNR there)."""
    video = held_out_clips(clips, FRAMES)
    x = to_tensor(video)
    squared = ((reconstruct(vae, x).clamp(-1, 1) - x) ** 2).mean(1).numpy()  # (B, F, H, W)
    total = squared.sum()
    split = {}
    for name, mask in regions(video).items():
        mse = float(squared[mask].mean()) if mask.any() else 0.0
        split[name] = (float(mask.mean()), float(squared[mask].sum() / total), decibels(mse))
    return decibels(float(squared.mean())), split


def colour_ceiling(vae: torch.nn.Module, count: int) -> float:
    """Two-shape held-out clips in which both colours keep half their area through a round trip."""
    hits = []
    for case in pair_cases(count):
        world = render_clip(case.spec, FRAMES)
        hits.append(keeps_colours(roundtrip(vae, world), world, [actor.color for actor in case.spec.actors]))
    return float(np.mean(hits))


def report(folder: Path, clips: int, cases: int) -> None:
    from diffusers import AutoencoderKLWan

    vae = AutoencoderKLWan.from_pretrained(folder).eval()
    config = vae.config
    params = sum(p.numel() for p in vae.parameters())
    x = to_tensor(held_out_clips(1, FRAMES))
    reconstruct(vae, x)  # warm-up
    started = time.perf_counter()
    for _ in range(3):
        reconstruct(vae, x)
    seconds = (time.perf_counter() - started) / 3
    print(
        f"{folder}\n  {config.scale_factor_spatial}× space, {config.scale_factor_temporal}× time, "
        f"{config.z_dim} latent channels; {params / 1e6:.2f} M parameters ({params * 4 / 2**20:.1f} MB fp32); "
        f"{seconds:.2f} s per {FRAMES}-frame round trip"
    )
    overall, split = error_split(vae, clips)
    print(f"  PSNR, {clips} held-out clips: {overall:.1f} dB ({FRAMES} frames), "
          f"{evaluate(vae, clips, frames=17):.1f} dB (17 frames)")
    print(f"  error, {FRAMES}-frame clips: " + "; ".join(
        f"{name} {pixels:.0%} of pixels, {share:.0%} of the error, {db:.1f} dB"
        for name, (pixels, share, db) in split.items()
    ))
    motion = roundtrip_accuracy(vae, motion_cases(cases))
    print(f"  round trip, held-out clips: the shape moves as told in {motion:.0%} of {cases} (ceiling of (a)); "
          f"two shapes keep their colours in {colour_ceiling(vae, cases):.0%} of {cases} (ceiling of (d))")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("vaes", nargs="*", type=Path, help="AutoencoderKLWan folders (default: the committed one)")
    parser.add_argument("--clips", type=int, default=16, help="held-out clips for PSNR and the error split")
    parser.add_argument("--cases", type=int, default=40, help="held-out motion and two-shape cases")
    args = parser.parse_args()
    folders = args.vaes or ([trained_model() / "vae"] if trained_model() else [])
    if not folders:
        sys.exit("no trained demo VAE here: run make train-demo-models first, or name a VAE folder")
    for folder in folders:
        if not (folder / "config.json").is_file():
            parser.error(f"{folder}: not a VAE folder (no config.json)")
    if args.clips < 4 or args.clips % 4:
        parser.error(f"--clips must be a positive multiple of 4, not {args.clips}")
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    for folder in folders:
        report(folder, args.clips, args.cases)


if __name__ == "__main__":
    main()
