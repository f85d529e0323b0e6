"""Per-take seconds of a continuation: tiny Wan VACE from K = 1 and 8 frames against tiny Wan
2.1 I2V from one frame (same pipeline frames, size, steps), and what scoring a take costs.

    python benchmarks/continuation.py [--frames 33] [--size 64] [--steps 8] [--runs 5]

Random-weight tiny pipelines built here (speed does not depend on the weights' values);
medians of ``--runs`` warm takes, on the CPU unless ``--device cuda``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")



from consistency.embedder import load_embedder  # noqa: E402
from consistency.identity import CharacterAnchor, anchor_from_frame  # noqa: E402
from consistency.scoring import score_take  # noqa: E402
from generation.loading import load_pipeline  # noqa: E402
from generation.render import render_take  # noqa: E402
from generation.tiny import make_tiny, trained_scorer  # noqa: E402
from generation.types import LoadOptions, RenderRequest  # noqa: E402
from generation.world import Actor, ClipSpec, render_clip  # noqa: E402


def median_seconds(fn, runs: int) -> float:  # type: ignore[no-untyped-def]
    fn()  # warm up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=33)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    previous = render_clip(ClipSpec((Actor("circle", "red", 0.3, 0.5),), "right", "black"), args.frames, args.size)
    base = RenderRequest("a red circle moves right on a black background", "", previous[-1], args.size, args.size,
                         args.frames, args.steps, 5.0, 0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        options = LoadOptions(device=args.device)
        i2v = load_pipeline(str(make_tiny(Path(tmp) / "wan", "wan")), options)
        vace = load_pipeline(str(make_tiny(Path(tmp) / "vace", "wan_vace")), options)
        cases = [
            ("Wan 2.1 I2V, from 1 frame", i2v, base),
            ("Wan VACE, from K = 1 frame", vace, dataclasses.replace(base, context=previous[-1:])),
            ("Wan VACE, from K = 8 frames", vace, dataclasses.replace(base, context=previous[-8:])),
            ("Wan VACE, K = 8 + a reference image", vace, dataclasses.replace(base, context=previous[-8:], references=(previous[0],))),
        ]
        takes = {}
        for label, loaded, request in cases:
            seconds = median_seconds(lambda: render_take(loaded, request, 16), args.runs)
            takes[label] = render_take(loaded, request, 16).frames
            rows.append((label, request.frames, len(takes[label]), seconds))
    print(f"| take ({args.size}×{args.size}, {args.steps} steps, {args.device}) | pipeline frames | take frames | seconds (median of {args.runs}) |")
    print("|---|---|---|---|")
    for label, frames, kept, seconds in rows:
        print(f"| {label} | {frames} | {kept} | {seconds:.3f} |")
    take = takes["Wan VACE, from K = 8 frames"]
    embedder = load_embedder(f"local-dir:{trained_scorer()}", args.device)
    made = anchor_from_frame(embedder, previous[len(previous) // 2], "a red circle")
    anchor = CharacterAnchor("red", "0" * 64, made.image, made.embedding)
    plain = median_seconds(lambda: score_take(embedder, take, "a red circle"), args.runs)
    full = median_seconds(lambda: score_take(embedder, take, "a red circle", anchors=[anchor], condition=previous[-1],
                                             scene_anchor=previous[0], previous=previous), args.runs)
    print(f"\nScoring that {len(take)}-frame take (embedded scorer): {plain:.3f} s without identity and motion, "
          f"{full:.3f} s with identity (regions against one anchor) and motion at the join (+{full - plain:.3f} s).")



if __name__ == "__main__":
    main()
