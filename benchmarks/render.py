"""Render overhead: a bare diffusers call vs storyreel's render path, same model/steps/seed.

    python benchmarks/render.py                       # tiny Wan I2V on CPU (--config tiny)
    python benchmarks/render.py --device cuda --config wan2.1-14b-480p --knobs --memory --distilled

Prints per-phase seconds (load, text encode, denoise, decode, encode), the overhead ratio of
storyreel's path to the bare call, and with the flags: each cache/compile knob (``--knobs``),
each memory mode (``--memory``: seconds per denoising step and peak device memory), and a
4-step guidance-1 take (a step-distilled LoRA's recipe) against a 40-step CFG take
(``--distilled``). Full-size configs build a random-weight transformer from the real
architecture (compute and memory do not depend on weight values), so GPU figures need no
download.
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

import torch  # noqa: E402

from generation.encode import contact_sheet, encode_mp4, save_png  # noqa: E402
from generation.frames import neutral_frame, to_uint8  # noqa: E402
from generation.loading import PIPELINES, load_pipeline  # noqa: E402
from generation.render import phase_timer, render_take  # noqa: E402
from generation.types import LoadOptions, RenderRequest, Timings  # noqa: E402

CONFIGS = {
    # Wan2.1-T2V-1.3B's transformer width with the I2V input layout (36 channels).
    "wan2.1-1.3b": dict(num_attention_heads=12, attention_head_dim=128, ffn_dim=8960, num_layers=30, image_dim=1280),
    # Wan2.1-I2V-14B-480P.
    "wan2.1-14b-480p": dict(num_attention_heads=40, attention_head_dim=128, ffn_dim=13824, num_layers=40, image_dim=1280),
}


def build_model(directory: Path, config: str | None, layers: int | None) -> Path:
    """The tiny pipeline, or one with a full-size random transformer from a real config."""
    from generation.builders import build_wan_i2v
    from generation.tiny import make_tiny

    if config is None:
        return make_tiny(directory, "wan")
    from diffusers import WanTransformer3DModel

    pipe = build_wan_i2v()
    kwargs = dict(CONFIGS[config])
    if layers:
        kwargs["num_layers"] = layers
    pipe.transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2), in_channels=36, out_channels=16, text_dim=32, freq_dim=256,
        cross_attn_norm=True, qk_norm="rms_norm_across_heads", rope_max_seq_len=1024, **kwargs,
    ).eval()
    # The tiny image encoder's width must match image_dim.
    from transformers import CLIPVisionConfig, CLIPVisionModel

    pipe.image_encoder = CLIPVisionModel(CLIPVisionConfig(hidden_size=kwargs["image_dim"], num_hidden_layers=1, num_attention_heads=8, image_size=32, intermediate_size=64, patch_size=8)).eval()
    pipe.register_modules(transformer=pipe.transformer, image_encoder=pipe.image_encoder)
    pipe.save_pretrained(directory, safe_serialization=True)
    return directory


def bare(model: Path, request: RenderRequest, fps: int, device: str, dtype: torch.dtype, out: Path) -> Timings:
    """What a user writes by hand: from_pretrained, call, encode."""
    from diffusers import WanImageToVideoPipeline
    from PIL import Image

    t = Timings()
    start = time.perf_counter()
    pipe = WanImageToVideoPipeline.from_pretrained(model, dtype=dtype).to(device)
    pipe.set_progress_bar_config(disable=True)
    t.load = time.perf_counter() - start
    start = time.perf_counter()
    with phase_timer(pipe, t), torch.inference_mode():
        video = pipe(image=Image.fromarray(request.image), prompt=request.prompt, height=request.height, width=request.width,
                     num_frames=request.frames, num_inference_steps=request.steps, guidance_scale=request.guidance,
                     generator=torch.Generator("cpu").manual_seed(request.seed), output_type="np").frames[0]
    t.denoise = time.perf_counter() - start - t.text_encode - t.decode
    start = time.perf_counter()
    encode_mp4(to_uint8(video), fps, out)
    t.encode = time.perf_counter() - start
    return t


def storyreel_path(model: Path, request: RenderRequest, fps: int, options: LoadOptions, out: Path) -> tuple[Timings, float]:
    """storyreel's render path: cached load, checked render, MP4 + last frame + contact sheet."""
    start = time.perf_counter()
    loaded = load_pipeline(str(model), options)
    load = time.perf_counter() - start
    result = render_take(loaded, request, fps)
    start = time.perf_counter()
    encode_mp4(result.frames, fps, out)
    save_png(result.frames[-1], out.with_suffix(".png"))
    save_png(contact_sheet(result.frames, "bench"), out.with_suffix(".sheet.png"))
    result.timings.encode = time.perf_counter() - start
    result.timings.load = load
    return result.timings, result.cache_skipped


def row(name: str, t: Timings) -> str:
    return f"{name:<22} load {t.load:7.3f}  text {t.text_encode:7.3f}  denoise {t.denoise:7.3f}  decode {t.decode:7.3f}  encode {t.encode:7.3f}  total {t.total:7.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--config", choices=["tiny", *sorted(CONFIGS)], default="tiny")
    parser.add_argument("--layers", type=int, help="override the number of transformer blocks")
    parser.add_argument("--size", type=int, nargs=2, default=None, metavar=("W", "H"))
    parser.add_argument("--frames", type=int, default=49)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--knobs", action="store_true", help="also time each cache/compile knob")
    parser.add_argument("--memory", action="store_true", help="also each memory mode: s/step and peak memory")
    parser.add_argument("--distilled", action="store_true", help="also 4 steps at guidance 1 against 40 with CFG")
    args = parser.parse_args()
    args.config = None if args.config == "tiny" else args.config
    dtype_name = "bfloat16" if args.device.startswith("cuda") else "float32"
    dtype = getattr(torch, dtype_name)
    width, height = args.size or ((832, 480) if args.config else (64, 64))
    with tempfile.TemporaryDirectory() as tmp:
        model = build_model(Path(tmp) / "model", args.config, args.layers)
        request = RenderRequest("a red circle moves right on a green background", "", neutral_frame(width, height), width, height, args.frames, args.steps, 5.0, 0)
        print(f"# {args.config or 'tiny'} on {args.device} ({dtype_name}), {width}x{height}, {args.frames} frames, {args.steps} steps, best of {args.repeat}")
        bares = [bare(model, request, 16, args.device, dtype, Path(tmp) / f"bare{i}.mp4") for i in range(args.repeat)]
        base = LoadOptions(device=args.device, dtype=dtype_name)
        ours = [storyreel_path(model, request, 16, base, Path(tmp) / f"ours{i}.mp4")[0] for i in range(args.repeat)]
        b = min(bares, key=lambda t: t.total - t.load)
        o = min(ours, key=lambda t: t.total - t.load)
        print(row("bare diffusers", b))
        print(row("storyreel (warm)", o))
        print(f"first storyreel load {ours[0].load:.3f} s, later loads {ours[-1].load:.4f} s (process cache); loads counted: {sum(PIPELINES.loads.values())}")
        print(f"overhead ratio (b)/(a), excluding load: {(o.total - o.load) / (b.total - b.load):.3f}")
        if args.knobs:
            baseline = o.denoise
            knobs = [("first_block", LoadOptions(device=args.device, dtype=dtype_name, cache="first_block", cache_threshold=0.2)),
                     ("taylorseer", LoadOptions(device=args.device, dtype=dtype_name, cache="taylorseer")),
                     ("pyramid", LoadOptions(device=args.device, dtype=dtype_name, cache="pyramid")),
                     ("mag", LoadOptions(device=args.device, dtype=dtype_name, cache="mag", cache_threshold=0.2)),
                     ("compile", LoadOptions(device=args.device, dtype=dtype_name, compile=True))]
            for name, options in knobs:
                runs = [storyreel_path(model, request, 16, options, Path(tmp) / f"{name}{i}.mp4") for i in range(args.repeat + 1)]
                t, skipped = min(runs[1:], key=lambda r: r[0].denoise)  # the first run warms up / calibrates
                print(f"knob {name:<12} denoise {t.denoise:7.3f} s  speed-up {baseline / t.denoise:5.2f}x  attention skipped {skipped:5.1%}")
        if args.memory:
            print(f"\n| memory mode ({args.device}) | s / denoising step | peak device memory |")
            print("|---|---|---|")
            for mode in ("full", "fp8_storage", "group_offload"):
                if mode == "group_offload" and not args.device.startswith("cuda"):
                    print(f"| {mode} | needs CUDA | — |")
                    continue
                options = LoadOptions(device=args.device, dtype=dtype_name, memory=mode)
                _reset_peak(args.device)
                runs = [storyreel_path(model, request, 16, options, Path(tmp) / f"{mode}{i}.mp4")[0] for i in range(args.repeat)]
                t = min(runs, key=lambda r: r.denoise)
                print(f"| {mode} | {t.denoise / request.steps:.4f} | {_peak(args.device)} |")
        if args.distilled:
            import dataclasses

            print(f"\n| take ({args.device}) | seconds |")
            print("|---|---|")
            for label, steps, guidance in (("40 steps, guidance 5 (CFG: two passes a step)", 40, 5.0), ("4 steps, guidance 1 (one pass)", 4, 1.0)):
                fast = dataclasses.replace(request, steps=steps, guidance=guidance)
                runs = [storyreel_path(model, fast, 16, base, Path(tmp) / f"d{steps}-{i}.mp4")[0] for i in range(args.repeat)]
                t = min(runs, key=lambda r: r.total - r.load)
                print(f"| {label} | {t.total - t.load:.3f} |")


def _reset_peak(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()


def _peak(device: str) -> str:
    if not device.startswith("cuda"):
        return "not measured (CPU)"
    return f"{torch.cuda.max_memory_allocated() / 2**30:.1f} GiB"


if __name__ == "__main__":
    main()
