"""Motion at ``continue`` joins: how often the metric fails a join whose prompts change the
movement on purpose, judged everywhere (the old rule) and only where the prompts describe the
same movement (`shots.movement.same_movement`, the rule storyreel applies).

    python benchmarks/joins.py [--chains 10] [--seed N] [--steps 20]

Held-out chains of the demo world, rendered with the embedded demo model and chained the way
`storyreel render` chains them (each shot from the previous take's hand-off frame):
- changing chains: right → down → left (two joins each, every one an intended change);
- same-movement chains: right → right (one join where the movement goes on).
A join "fails" when `consistency.motion.motion_continuity` scores it below the ``motion``
threshold. A failure at a changing join is a false failure: the take did what its prompt said.
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

from consistency.motion import motion_continuity  # noqa: E402
from consistency.policy import DEFAULT_THRESHOLDS  # noqa: E402
from generation.frames import handoff_frame  # noqa: E402
from generation.loading import load_pipeline  # noqa: E402
from generation.tiny import trained_model  # noqa: E402
from generation.training.quality import DEMO_KEYFRAME, chain_specs, chain_starts, render  # noqa: E402
from generation.world import ClipSpec  # noqa: E402
from shots.movement import same_movement  # noqa: E402


def chain(loaded, actor, background, motions, seed: int, steps: int) -> list[tuple[str, str, float]]:  # type: ignore[no-untyped-def]
    """(prompt before, prompt after, motion score) at each join of one chain."""
    image = chain_starts(actor, background, motions)[0]
    joins, previous, before = [], None, ""
    for k, motion in enumerate(motions):
        prompt = ClipSpec((actor,), motion, background).caption() + "."
        clip = render(loaded, image, prompt, seed + k, steps)
        if previous is not None:
            joins.append((before, prompt, motion_continuity(previous, clip).score))
        previous, before = clip, prompt
        image = handoff_frame(clip, DEMO_KEYFRAME, 8)[1]
    return joins


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chains", type=int, default=10, help="chains of each kind")
    parser.add_argument("--seed", type=int, default=5_000_011)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    loaded = load_pipeline(str(trained_model()))
    threshold = DEFAULT_THRESHOLDS["motion"]
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    joins: list[tuple[str, str, float]] = []
    for n in range(args.chains):
        actor, background, motions = chain_specs(rng)
        joins += chain(loaded, actor, background, motions, args.seed + 10 * n, args.steps)
        joins += chain(loaded, actor, background, ["right", "right"], args.seed + 10 * n + 5, args.steps)
    changing = [s for before, after, s in joins if not same_movement(before, after)]
    same = [s for before, after, s in joins if same_movement(before, after)]
    fails = lambda scores: sum(s < threshold for s in scores)  # noqa: E731
    print(f"| {args.chains} + {args.chains} held-out chains, threshold {threshold:g} | joins | failed, judged everywhere | failed, judged where the movement goes on |")
    print("|---|---|---|---|")
    print(f"| the prompts change the movement | {len(changing)} | {fails(changing)} (all false) | 0 (recorded, not judged) |")
    print(f"| the movement goes on | {len(same)} | {fails(same)} | {fails(same)} |")
    print(f"\nMean motion score: changing joins {np.mean(changing):.3f}, same-movement joins {np.mean(same):.3f}; "
          f"{time.perf_counter() - started:.0f} s.")


if __name__ == "__main__":
    main()
