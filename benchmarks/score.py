"""Scoring speed: frames/s of the embedder for the tiny and ViT-B-32 models, and the ratio
of scoring time to render time for the same 49-frame take (every metric: identity searched by
region against one anchor, motion at a join, the rest).

    python benchmarks/score.py [--device cuda]

ViT-B-32 uses random weights saved locally (speed does not depend on weight values).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


from consistency.embedder import load_embedder, make_tiny_clip  # noqa: E402
from consistency.identity import CharacterAnchor, anchor_from_frame  # noqa: E402
from consistency.scoring import score_take  # noqa: E402
from generation.frames import neutral_frame  # noqa: E402
from generation.loading import load_pipeline  # noqa: E402
from generation.render import render_take  # noqa: E402
from generation.tiny import make_tiny  # noqa: E402
from generation.types import LoadOptions, RenderRequest  # noqa: E402
from generation.world import Actor, ClipSpec, render_clip  # noqa: E402


def vit_b_32(directory: Path) -> str:
    import open_clip
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32", pretrained=None)
    path = directory / "vit-b-32.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, path)
    return f"ViT-B-32:{path}"


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--frames", type=int, default=49)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        clip = render_clip(ClipSpec((Actor("circle", "red", 0.3, 0.5),), "right", "green"), args.frames, size=64)
        loaded = load_pipeline(str(make_tiny(tmp_path / "wan", "wan")), LoadOptions(device=args.device))
        request = RenderRequest("a red circle moves right", "", neutral_frame(64, 64), 64, 64, args.frames, 8, 5.0, 0)
        render_take(loaded, request, 16)  # warm up
        render = best_of(lambda: render_take(loaded, request, 16), args.repeat)
        print(f"# {args.frames}-frame 64x64 take on {args.device}; tiny render (8 steps) {render:.3f} s")
        for name, spec in (("tiny", f"local-dir:{make_tiny_clip(tmp_path / 'clip')}"), ("ViT-B-32", vit_b_32(tmp_path))):
            embedder = load_embedder(spec, args.device)
            embedder.embed_images(clip)  # warm up
            embed = best_of(lambda: embedder.embed_images(clip), args.repeat)
            made = anchor_from_frame(embedder, clip[len(clip) // 2], "a red circle")
            anchor = CharacterAnchor("red", "0" * 64, made.image, made.embedding)
            full = best_of(lambda: score_take(embedder, clip, "a red circle", anchors=[anchor], condition=clip[0], scene_anchor=clip[0], previous=clip), args.repeat)
            print(f"{name:<9} embed {args.frames / embed:8.1f} frames/s   score_take {full:.3f} s   score/render {full / render:.2f}")


if __name__ == "__main__":
    main()
