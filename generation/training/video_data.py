"""The demo transformer's data: world clips encoded through the pipeline's own code paths.

What `generation.training.video` trains on is made here, by the pipeline's `encode_prompt`,
`encode_image`, its VAE and the latent normalisation of `prepare_latents`, so what the
transformer sees in training is what it sees in `pipe(...)`. Encoded clips are cached once under
``<out>/cache`` (`build_cache`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from generation.training.common import log, step_rng, to_tensor
from generation.training.data import prompt_for, sample_clips

FRAMES = 9
SIZE = 64
MAX_SEQUENCE_LENGTH = 512  # the pipeline's default; padding is part of what the model learns


def _normalise(pipe: object, z: torch.Tensor) -> torch.Tensor:
    config = pipe.vae.config
    mean = torch.tensor(config.latents_mean, device=z.device).view(1, -1, 1, 1, 1)
    std = torch.tensor(config.latents_std, device=z.device).view(1, -1, 1, 1, 1)
    return (z - mean) / std


def condition_mask(like: torch.Tensor, temporal: int) -> torch.Tensor:
    """The pipeline's first-frame mask for latents ``like`` (B, C, F, h, w): (B, ``temporal``, F,
    h, w), where ``temporal`` is the VAE's time factor; the first latent frame's channels are ones
    (they stand for the first frame), the rest zeros."""
    b, _, frames, h, w = like.shape
    mask = like.new_zeros(b, temporal, frames, h, w)
    mask[:, :, 0] = 1.0
    return mask


@torch.no_grad()
def round_trip(vae: torch.nn.Module, frames: np.ndarray) -> np.ndarray:
    """uint8 frames (B, H, W, 3) through the VAE and back, as a hand-off frame comes out of a take.

    `quality.roundtrip` does the same for one clip but rounds through `frames.to_uint8`, which
    ties differently on a few pixels; this rounding is what the hand-off cache of the committed
    weights was built with, so the two stay apart (quality imports this module, not the other
    way round)."""
    y = vae.decode(vae.encode(to_tensor(frames[:, None]).to(vae.device)).latent_dist.mode()).sample[:, :, 0]
    return ((y.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


@torch.no_grad()
def encode_clips(
    pipe: object, clips: np.ndarray, prompts: list[str], handoff: bool = False
) -> dict[str, torch.Tensor]:
    """Everything the transformer needs for a batch of clips, via the pipeline's own code.

    ``handoff``: the condition (VAE and image encoder) is the first frame after a VAE round trip,
    as the hand-off frame of a previous take is; the target stays the clean clip. Runs on the
    VAE's device; the tensors come back on the CPU."""
    device = pipe.vae.device
    x = to_tensor(clips).to(device)
    starts = round_trip(pipe.vae, clips[:, 0]) if handoff else clips[:, 0]
    first = to_tensor(starts[:, None]).to(device)
    video_condition = torch.cat([first, first.new_zeros(first.shape[0], 3, clips.shape[1] - 1, SIZE, SIZE)], dim=2)
    x0 = _normalise(pipe, pipe.vae.encode(x).latent_dist.mode())
    cond = _normalise(pipe, pipe.vae.encode(video_condition).latent_dist.mode())
    image = pipe.encode_image([Image.fromarray(f) for f in starts], device=device)
    encoded = {"x0": x0, "cond": cond, "image": image, "text": text_embeds(pipe, prompts, device)}
    return {k: v.cpu() for k, v in encoded.items()}


@torch.no_grad()
def text_embeds(pipe: object, prompts: list[str], device: torch.device | str = "cpu") -> torch.Tensor:
    """Prompt embeddings exactly as the pipeline pads them (zeros after the prompt's tokens), on
    ``device`` (where the text encoder is)."""
    embeds, _ = pipe.encode_prompt(
        prompts, do_classifier_free_guidance=False, max_sequence_length=MAX_SEQUENCE_LENGTH, device=device
    )
    return embeds


def build_cache(
    pipe: object, path: Path, clips: int, split: str, chunk: int = 32, sampler: Callable = sample_clips,
    name: str = "video-data", handoff: bool = False,
) -> dict[str, torch.Tensor]:
    """Encode ``clips`` world clips of ``sampler`` once and keep them at ``path`` (text kept only to
    its length); ``name`` seeds the draws; ``handoff`` as in `encode_clips`."""
    if path.is_file():
        return torch.load(path, weights_only=True)
    parts: dict[str, list[torch.Tensor]] = {"x0": [], "cond": [], "image": [], "text": [], "length": []}
    for n in range(0, clips, chunk):
        rng = step_rng(f"{name}-{split}", n)
        video, specs = sampler(rng, min(chunk, clips - n), frames=FRAMES, size=SIZE, split=split)
        encoded = encode_clips(pipe, video, [prompt_for(s, rng) for s in specs], handoff=handoff)
        lengths = (encoded["text"].abs().sum(-1) > 0).sum(-1)
        encoded["text"] = encoded["text"][:, : int(lengths.max())]
        for key in ("x0", "cond", "image"):
            parts[key].append(encoded[key])
        parts["text"].extend(t for t in encoded["text"])
        parts["length"].append(lengths)
        if (n // chunk) % 20 == 0:
            log(f"{name} cache {split} {n + chunk}/{clips}")
    width = max(t.shape[0] for t in parts["text"])
    cache = {k: torch.cat(parts[k]) for k in ("x0", "cond", "image", "length")}
    cache["text"] = torch.stack([pad_tokens(t, width) for t in parts["text"]])
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(cache, path.with_suffix(".tmp"))
    os.replace(path.with_suffix(".tmp"), path)
    return cache


def concat_batches(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Two cached batches as one; the text embeddings padded (with zeros) to the longer width."""
    width = max(a["text"].shape[1], b["text"].shape[1])
    return {
        k: torch.cat([pad_tokens(a[k], width), pad_tokens(b[k], width)] if k == "text" else [a[k], b[k]]) for k in a
    }


def pad_tokens(text: torch.Tensor, width: int) -> torch.Tensor:
    """Text embeddings (…, tokens, dim) padded with zero tokens to ``width`` tokens, as the
    pipeline pads a prompt."""
    return torch.nn.functional.pad(text, (0, 0, 0, width - text.shape[-2]))
