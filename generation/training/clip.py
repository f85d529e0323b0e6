"""Stage 3: a tiny open_clip model trained contrastively on world frames ↔ captions.

Saved in open_clip's own ``local-dir`` format (``open_clip_config.json`` +
``open_clip_model.safetensors``), so the scorer loads it with
``open_clip.create_model_and_transforms("local-dir:<folder>")`` like any exported model. The
token embedding table (49 408 rows, open_clip's BPE vocabulary) is stored in float16 to keep
the file small; open_clip casts it back on load.

    python -m generation.training.clip --out build/demo-models
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from open_clip import OPENAI_DATASET_MEAN as MEAN
from open_clip import OPENAI_DATASET_STD as STD

from generation.training.common import THREADS_HELP, Checkpoint, fit, log, set_threads, step_rng
from generation.training.data import prompt_for
from generation.world import SHAPES, ClipSpec, actors_at, draw_frame, portrait, sample_spec

THREADS = 2
"""CPU threads by default: those the committed CLIP was trained with (see `set_threads`)."""
IDENTITIES = 24
"""Characters per step of the identity objective (two views each)."""
VIEW_TEMPERATURE = 0.1
CLIP_CONFIG = {
    "embed_dim": 64,
    "vision_cfg": {"image_size": 64, "layers": 4, "width": 64, "head_width": 32, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


def sample_pairs(rng: np.random.Generator, count: int, split: str = "train") -> tuple[torch.Tensor, list[str]]:
    """``count`` (frame, caption) pairs, normalised for CLIP.

    Half are scenes: a random moment of a random clip, with its caption. A quarter are
    *portraits* — one character alone on the neutral grey ground, captioned by its description
    (``a red circle.``): what identity compares (`consistency.identity`). A quarter are twins:
    two scenes alike but for one character's shape, side by side in the batch, so the loss
    cannot tell them apart by colour or background alone.
    """
    frames, captions = [], []
    while len(frames) < count:
        kind = rng.random()
        spec = sample_spec(rng, actors=1 if rng.random() < 2 / 3 else 2, split=split)
        actors = actors_at(spec, float(rng.random()))
        if kind < 0.25:
            actor = actors[int(rng.integers(len(actors)))]
            frames.append(portrait(actor, from_frame=bool(rng.random() < 0.5)))
            captions.append(ClipSpec((actor,), spec.motion, spec.background).descriptions()[0] + ".")
            continue
        frames.append(draw_frame(actors, spec.background))
        captions.append(prompt_for(spec, rng))
        if kind < 0.5 and len(frames) < count:
            i = int(rng.integers(len(actors)))
            shape = str(rng.choice([s for s in SHAPES if s != actors[i].shape]))
            twin = ClipSpec(tuple(replace(a, shape=shape) if j == i else a for j, a in enumerate(spec.actors)), spec.motion, spec.background)
            frames.append(draw_frame(tuple(replace(a, shape=shape) if j == i else a for j, a in enumerate(actors)), spec.background))
            captions.append(prompt_for(twin, rng))
    x = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 255.0
    return (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1), captions


def sample_views(rng: np.random.Generator, count: int, split: str = "train") -> torch.Tensor:
    """``2·count`` portraits, normalised for CLIP: two views of each of ``count`` characters (turned
    another way, sharp or cut from a frame where it was small; views ``i`` and ``count + i`` are
    the same character). Characters of a batch are distinct — with 24 of the world's 36, many
    share a colour or a shape."""
    views: list[np.ndarray] = [np.empty(0)] * (2 * count)
    seen: set[tuple[str, str]] = set()
    i = 0
    while i < count:
        actor = sample_spec(rng, actors=1, split=split).actors[0]
        if (actor.shape, actor.color) in seen:
            continue
        seen.add((actor.shape, actor.color))
        for slot in (i, count + i):  # sharp, or cut from a frame and scaled up as identity does
            turned = replace(actor, angle=float(rng.uniform(0, 360)), size=float(rng.uniform(0.15, 0.35)))
            views[slot] = portrait(turned, from_frame=bool(rng.random() < 0.5))
        i += 1
    x = torch.from_numpy(np.stack(views)).permute(0, 3, 1, 2).float() / 255.0
    return (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)


def build_clip() -> torch.nn.Module:
    import open_clip

    torch.manual_seed(0)
    return open_clip.CLIP(**CLIP_CONFIG)


@torch.no_grad()
def retrieval_accuracy(model: torch.nn.Module, tokenizer: object, pairs: int = 256) -> float:
    """Held-out captions: how often a frame's own caption scores highest among 16 candidates."""
    model.eval()
    images, captions = sample_pairs(step_rng("clip-eval", 0), pairs, split="eval")
    img = F.normalize(model.encode_image(images), dim=-1)
    txt = F.normalize(model.encode_text(tokenizer(captions)), dim=-1)
    hits = 0
    for start in range(0, pairs, 16):
        sims = img[start : start + 16] @ txt[start : start + 16].T
        hits += int((sims.argmax(1) == torch.arange(sims.shape[0])).sum())
    model.train()
    return hits / pairs


def save_local_dir(model: torch.nn.Module, directory: Path) -> Path:
    """Write ``model`` as an open_clip ``local-dir`` folder, atomically."""
    from safetensors.torch import save_file

    staging = directory.with_name(directory.name + ".partial")
    staging.mkdir(parents=True, exist_ok=True)
    config = {"model_cfg": CLIP_CONFIG, "preprocess_cfg": {"mean": list(MEAN), "std": list(STD)}}
    (staging / "open_clip_config.json").write_text(json.dumps(config, indent=2) + "\n")
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    state["token_embedding.weight"] = state["token_embedding.weight"].half()
    save_file(state, staging / "open_clip_model.safetensors")
    if directory.exists():
        shutil.rmtree(directory)
    os.replace(staging, directory)
    return directory


def train(
    out: Path,
    steps: int = 1500,
    batch: int = 128,
    lr: float = 1e-3,
    threads: int | None = None,
    until: int | None = None,
    checkpoint_every: int = 250,
) -> Path | None:
    """Train (resuming if a checkpoint exists) and save ``<out>/tiny-clip``."""
    import open_clip

    set_threads(threads, THREADS)
    model = build_clip().train()
    tokenizer = open_clip.get_tokenizer("ViT-B-32")  # open_clip's bundled BPE tokenizer
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    checkpoint = Checkpoint(out / "checkpoints" / "clip", every=checkpoint_every)
    labels = torch.arange(batch)

    identities = min(IDENTITIES, batch)
    pairs = torch.cat([torch.arange(identities, 2 * identities), torch.arange(identities)])

    def loss_at(step: int) -> tuple[torch.Tensor, dict[str, float]]:
        rng = step_rng("clip", step)
        images, captions = sample_pairs(rng, batch)
        img = F.normalize(model.encode_image(images), dim=-1)
        txt = F.normalize(model.encode_text(tokenizer(captions)), dim=-1)
        logits = model.logit_scale.exp().clamp(max=100) * img @ txt.T
        text_loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
        # Identity: two views of one character are each other's match among 2·identities portraits.
        views = F.normalize(model.encode_image(sample_views(rng, identities)), dim=-1)
        sims = views @ views.T / VIEW_TEMPERATURE
        sims = sims.masked_fill(torch.eye(2 * identities, dtype=torch.bool), float("-inf"))
        view_loss = F.cross_entropy(sims, pairs)
        return text_loss + view_loss, {"views": float(view_loss)}

    if not fit("clip", model, optimizer, loss_at, steps=steps, lr=lr, checkpoint=checkpoint, until=until):
        return None
    log("clip held-out retrieval (1 of 16)", accuracy=retrieval_accuracy(model, tokenizer))
    return save_local_dir(model.eval(), out / "tiny-clip")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/demo-models"))
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None, help=THREADS_HELP)
    parser.add_argument("--until", type=int, default=None, help="stop after this step; a later run resumes")
    args = parser.parse_args(argv)
    train(args.out, args.steps, args.batch, threads=args.threads, until=args.until)


if __name__ == "__main__":
    main()
