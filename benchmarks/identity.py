"""Does identity judge the character, not the scene? Pairs from the demo world, held out.

    python benchmarks/identity.py [--pairs 60] [--scorer DIR] [--threshold T]

Each case: an anchor taken from the middle frame of a world clip (the region that best matches
the character's description, as storyreel freezes an anchor), and three other clips on
another background, with another motion, place and size — the same shape and colour (should
score at or above the identity threshold), another colour (below), another shape (below).
Clips are drawn from held-out captions with a seed no tuning saw. Prints the distribution of
each kind and the share of cases each kind lands on the right side of the threshold; also the
whole-frame score storyreel used before, for comparison, and seconds per take scored.
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

from consistency import metrics  # noqa: E402
from consistency.embedder import load_embedder  # noqa: E402
from consistency.identity import anchor_from_frame, identity_scores  # noqa: E402
from consistency.policy import DEFAULT_THRESHOLDS  # noqa: E402
from generation.tiny import trained_scorer  # noqa: E402
from generation.world import COLORS, SHAPES, Actor, ClipSpec, render_clip, sample_spec  # noqa: E402

SEED = 90210  # held out: the thresholds were not chosen on these cases


def cases(count: int, seed: int = SEED) -> list[dict[str, np.ndarray | str]]:
    """Anchor clip and (same, other colour, other shape) clips per case."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        spec = sample_spec(rng, 1, split="eval")
        actor = spec.actors[0]
        ground = str(rng.choice([c for c in COLORS if c not in (actor.color, spec.background)]))
        moved = sample_spec(rng, 1, split="eval")
        place = moved.actors[0]
        colour = str(rng.choice([c for c in COLORS if c not in (actor.color, ground)]))
        shape = str(rng.choice([s for s in SHAPES if s != actor.shape]))

        def clip(shape_: str, colour_: str) -> np.ndarray:
            return render_clip(ClipSpec((Actor(shape_, colour_, place.x, place.y, place.size),), moved.motion, ground), 9)

        out.append({"anchor": render_clip(spec, 9), "description": spec.descriptions()[0],
                    "same": clip(actor.shape, actor.color), "colour": clip(actor.shape, colour), "shape": clip(shape, actor.color)})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=60)
    parser.add_argument("--scorer", default=None, help="an open_clip local-dir folder (default: the embedded scorer)")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLDS["identity"])
    args = parser.parse_args()
    embedder = load_embedder(f"local-dir:{args.scorer or trained_scorer()}")
    scores: dict[str, list[float]] = {"same": [], "colour": [], "shape": []}
    whole: dict[str, list[float]] = {"same": [], "colour": [], "shape": []}
    started, takes = time.perf_counter(), 0
    for case in cases(args.pairs):
        anchor_frame = case["anchor"][len(case["anchor"]) // 2]
        anchor = anchor_from_frame(embedder, anchor_frame, str(case["description"]))
        reference = embedder.embed_images(anchor_frame[None])
        for kind in scores:
            frames = case[kind]
            scores[kind].append(identity_scores(embedder, frames, [anchor.embedding])[0])
            whole[kind].append(metrics.identity(embedder.embed_images(frames), reference))
            takes += 1
    seconds = (time.perf_counter() - started) / takes
    t = args.threshold
    right = {"same": np.mean(np.array(scores["same"]) >= t), "colour": np.mean(np.array(scores["colour"]) < t),
             "shape": np.mean(np.array(scores["shape"]) < t)}
    print(f"| {args.pairs} held-out cases, threshold {t:g} | mean | min | max | on the right side |")
    print("|---|---|---|---|---|")
    for kind, label in (("same", "same shape and colour, other background"), ("colour", "another colour"), ("shape", "another shape")):
        v = np.array(scores[kind])
        print(f"| {label} | {v.mean():.3f} | {v.min():.3f} | {v.max():.3f} | {100 * right[kind]:.0f} % |")
    every = np.mean([(a >= t) and (b < t) and (c < t) for a, b, c in zip(scores["same"], scores["colour"], scores["shape"])])
    print(f"\nAll three right in {100 * every:.0f} % of cases; {100 * np.mean(list(right.values())):.0f} % of pairs.")
    print(f"Whole frames (the old identity): same {np.mean(whole['same']):.3f}, another colour {np.mean(whole['colour']):.3f}, "
          f"another shape {np.mean(whole['shape']):.3f}; same ≥ {t:g} in {100 * np.mean(np.array(whole['same']) >= t):.0f} %.")
    print(f"Identity of one character on a 9-frame 64×64 take: {seconds * 1000:.0f} ms (anchor search excluded).")


if __name__ == "__main__":
    main()
