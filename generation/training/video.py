"""Stage 2: a tiny Wan 2.1 image-to-video transformer, trained by flow matching.

The pipeline is diffusers' `WanImageToVideoPipeline` with every Wan 2.1 component, only small:
the stage-1 VAE, a frozen random UMT5 text encoder over a word-level tokenizer of the world's
vocabulary, a frozen tiny CLIP vision encoder, `FlowMatchEulerDiscreteScheduler` and the
transformer trained here. Training inputs are made by the pipeline's own code paths
(`encode_prompt`, `encode_image`, the VAE and the latent normalisation of `prepare_latents`), so
what the transformer sees in training is what it sees in `pipe(...)`:

- latents ``x0`` of a 9-frame clip (first frame + two chunks of four), normalised by the VAE's ``latents_mean`` / ``latents_std``;
- the condition: the first-frame mask (a channel per frame of the VAE's time factor) and the
  latents of (first frame, zeros…);
- rectified flow: ``x_t = (1 − σ) x0 + σ ε``, timestep ``1000 σ``, target ``ε − x0``, with σ
  drawn through the scheduler's shift so training spends its steps where sampling does;
- one caption in ten replaced by the empty prompt, for classifier-free guidance.

Encoded clips are cached once under ``<out>/cache`` (`generation.training.video_data`); the
transformer then trains on them.

    python -m generation.training.video --out build/demo-models
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from generation.training.common import THREADS_HELP, Checkpoint, fit, log, set_threads, step_rng
from generation.training.data import sample_pair_clips
from generation.training.video_data import (
    FRAMES,
    MAX_SEQUENCE_LENGTH,
    build_cache,
    concat_batches,
    condition_mask,
    pad_tokens,
    text_embeds,
)
from shots.errors import ConfigError

TEXT_DIM = 64
THREADS = 2
"""CPU threads by default: those the committed transformer was trained with (see `set_threads`)."""
SHIFT = 3.0
MOTION_WEIGHT = 4.0
"""`flow_loss`'s weight on changing latent pixels in the third phase."""
SHAPE_WEIGHT = 4.0
"""`flow_loss`'s weight on the shapes' latent pixels in the optional fifth phase."""
PAIR_SHARE = 0.5
"""Share of each batch drawn from two-shape clips (`sample_pair_clips`) in the sixth and seventh
phases; the seventh draws the rest from clips started from a round-tripped frame."""
# Patch 1×1×1 on the 8×-space VAE's latents: at 64×64 a shape covers about 2×2 latent pixels, so
# a 2×2 patch would hide its position inside one token (`transformer_config` gives the 4× VAE's
# latents a 2×2 patch: a token still covers 8×8 pixels). 160 wide (5 heads of 32), feed-forward
# 640: the committed model's sizes; at 96 wide (4 × 24, feed-forward 256) a token that takes and
# gives a 2×2 patch of 16-channel latents learned motion far more slowly (benchmarks/README.md).
TRANSFORMER_CONFIG = dict(
    patch_size=(1, 1, 1),
    num_attention_heads=5,
    attention_head_dim=32,
    in_channels=36,
    out_channels=16,
    text_dim=TEXT_DIM,
    freq_dim=256,
    ffn_dim=640,
    num_layers=4,
    cross_attn_norm=True,
    qk_norm="rms_norm_across_heads",
    rope_max_seq_len=64,
    image_dim=16,
)


def transformer_config(vae_config: object, **sizes: int) -> dict:
    """`TRANSFORMER_CONFIG` fitted to a VAE: its latents twice (noise and condition) and one mask
    channel per frame of its temporal factor in, its latents out, and a patch that keeps a token
    for 8×8 pixels (1×1 latent pixels at 8× downsampling, as the committed model; 2×2 at 4×).
    ``sizes`` override the widths and depth (``num_attention_heads``, ``attention_head_dim``,
    ``ffn_dim``, ``num_layers``)."""
    unknown = set(sizes) - {"num_attention_heads", "attention_head_dim", "ffn_dim", "num_layers"}
    if unknown:
        raise ValueError(f"not a transformer size: {', '.join(sorted(unknown))}")
    patch = max(1, 8 // vae_config.scale_factor_spatial)
    return {
        **TRANSFORMER_CONFIG,
        **sizes,
        "in_channels": 2 * vae_config.z_dim + vae_config.scale_factor_temporal,
        "out_channels": vae_config.z_dim,
        "patch_size": (1, patch, patch),
    }


def build_pipeline(vae: torch.nn.Module, **sizes: int) -> object:
    """The demo pipeline around a trained VAE: frozen random text and image encoders, a fresh
    transformer (seeded; ``sizes`` as in `transformer_config`)."""
    from diffusers import FlowMatchEulerDiscreteScheduler, WanImageToVideoPipeline, WanTransformer3DModel
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    from generation.builders import build_tokenizer, t5_encoder

    torch.manual_seed(0)
    tokenizer = build_tokenizer()
    text_encoder = t5_encoder(True, len(tokenizer), d_model=TEXT_DIM, d_kv=16, d_ff=128)
    image_encoder = CLIPVisionModel(
        CLIPVisionConfig(
            hidden_size=16,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=32,
            image_size=32,
            patch_size=8,
        )
    ).eval()
    return WanImageToVideoPipeline(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        vae=vae.eval(),
        scheduler=FlowMatchEulerDiscreteScheduler(shift=SHIFT),
        image_processor=CLIPImageProcessor(crop_size=32, size=32),
        image_encoder=image_encoder,
        transformer=WanTransformer3DModel(**transformer_config(vae.config, **sizes)),
    )


def sample_sigmas(u: torch.Tensor, shift: float = SHIFT) -> torch.Tensor:
    """Uniform draws mapped through the scheduler's time shift."""
    return shift * u / (1 + (shift - 1) * u)


def flow_loss(
    transformer: torch.nn.Module,
    batch: dict[str, torch.Tensor],
    generator: torch.Generator,
    empty: torch.Tensor,
    drop: float = 0.1,
    motion_weight: float = 0.0,
    shape_weight: float = 0.0,
    temporal: int = 4,
) -> torch.Tensor:
    """The rectified-flow loss of one batch (text dropped to the empty prompt with prob ``drop``);
    ``temporal`` is the VAE's time factor, the first-frame mask's channel count.

    ``motion_weight`` > 0 weighs each latent pixel by ``1 + motion_weight × change / mean change``,
    where ``change`` is how far it is from the first latent frame: the moving shapes cover a few
    per cent of the latent, and unweighted their error is drowned by the static background's.
    ``shape_weight`` > 0 adds ``shape_weight × salience / mean salience``, where ``salience`` is
    how far the pixel is from its frame's background (the per-channel spatial median): the
    shapes in every frame, also where they stay put.
    """
    x0 = batch["x0"]
    b = x0.shape[0]
    on = generator.device  # the batch's device: the draws are made there
    u = torch.rand(b, generator=generator, device=on)
    sigma = sample_sigmas(u).view(b, 1, 1, 1, 1)
    noise = torch.randn(x0.shape, generator=generator, device=on)
    xt = (1 - sigma) * x0 + sigma * noise
    text = pad_tokens(batch["text"], MAX_SEQUENCE_LENGTH)
    dropped = torch.rand(b, generator=generator, device=on) < drop
    text[dropped] = empty
    model_input = torch.cat([xt, condition_mask(x0, temporal), batch["cond"]], dim=1)
    pred = transformer(
        hidden_states=model_input,
        timestep=sigma.view(b) * 1000,
        encoder_hidden_states=text,
        encoder_hidden_states_image=batch["image"],
        return_dict=False,
    )[0]
    error = (pred - (noise - x0)) ** 2
    if not motion_weight and not shape_weight:
        return error.mean()
    change = (x0 - x0[:, :, :1]).abs().mean(1, keepdim=True)
    weight = 1 + motion_weight * change / change.mean().clamp_min(1e-6)
    if shape_weight:
        salience = (x0 - x0.flatten(3).median(-1).values[..., None, None]).abs().mean(1, keepdim=True)
        weight = weight + shape_weight * salience / salience.mean().clamp_min(1e-6)
    return (weight * error).mean() / weight.mean()


STAGES = ("video", "video-long", "video-more", "video-polish", "video-shape", "video-pairs", "video-handoff")
"""The transformer's phases in the order they run (their checkpoint folders)."""


def train(
    out: Path,
    steps: int = 580,
    batch: int = 128,
    clips: int = 12000,
    eval_clips: int = 256,
    lr: float = 1e-3,
    threads: int | None = None,
    until: int | None = None,
    checkpoint_every: int = 250,
    long_steps: int = 928,
    motion_steps: int = 1624,
    polish_steps: int = 524,
    shape_steps: int = 0,
    pair_steps: int = 524,
    pair_clips: int = 4000,
    handoff_steps: int = 525,
    handoff_clips: int = 4000,
    start_from: Path | None = None,
    start_after: str | None = None,
    device: str = "auto",
    sizes: dict[str, int] | None = None,
) -> Path | None:
    """Cache the data, train (resuming if a checkpoint exists), save ``<out>/tiny-wan-i2v``.

    Then ``long_steps`` more from those weights with a fresh optimiser and a second warm-up and
    cosine decay at ``0.6 lr`` (a warm restart; 0 skips it), then ``motion_steps`` more the same
    way with the loss weighted toward what moves (`MOTION_WEIGHT`), then ``polish_steps`` more of
    that at ``0.3 lr``, then ``shape_steps`` more at ``0.3 lr`` also weighted toward the shapes
    where they stay (`SHAPE_WEIGHT`), then ``pair_steps`` more motion-weighted at ``0.3 lr`` with
    `PAIR_SHARE` of each batch from ``pair_clips`` two-shape clips (`sample_pair_clips`), then
    ``handoff_steps`` more of that where the rest of each batch (1 − `PAIR_SHARE`) comes from
    ``handoff_clips`` clips whose condition is their first frame after a VAE round trip: a chained
    shot starts from a decoded frame, softer than a world frame, and learns to start clean again.

    ``start_from`` (a saved transformer folder) with ``start_after`` (a stage name, `STAGES`):
    train on from those weights as if every stage up to that one had run, as the committed weights
    were trained phase by phase (`lay_down`).

    The defaults are the recipe of the committed weights, trained on one GPU (`device` "auto"
    takes CUDA where there is one: ≈ 5 minutes on one H200, ≈ 21 hours on 2 CPU cores; see
    benchmarks/README.md). ``device``: where the encoders and the transformer run; noise is drawn
    on that device, so CPU and GPU train to other weights, and a GPU rerun matches only to its
    kernels' nondeterminism. Matrix products use TF32 on CUDA, as the committed run did.
    ``sizes``: the transformer's widths and depth (`transformer_config`).
    """
    from diffusers import AutoencoderKLWan

    from generation.speed import resolve_device

    set_threads(threads, THREADS)
    device = resolve_device(device)  # ConfigError for a device this machine lacks
    cuda = torch.device(device).type == "cuda"
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    pipe = build_pipeline(AutoencoderKLWan.from_pretrained(out / "vae"), **(sizes or {})).to(device)
    counts = (steps, long_steps, motion_steps, polish_steps, shape_steps, pair_steps, handoff_steps)
    steps_of = dict(zip(STAGES, counts, strict=True))
    if start_from is not None:  # before the caches: weights that do not fit fail fast
        finished = STAGES[: STAGES.index(start_after) + 1]
        lay_down(out, start_from, {stage: steps_of[stage] for stage in finished}, pipe.transformer)
    train_set = build_cache(pipe, out / "cache" / f"video-train-{clips}x{FRAMES}.pt", clips, "train")
    eval_set = build_cache(pipe, out / "cache" / f"video-eval-{eval_clips}x{FRAMES}.pt", eval_clips, "eval")
    empty = text_embeds(pipe, [""], device)[0]
    temporal = pipe.vae.config.scale_factor_temporal
    transformer = pipe.transformer.train()
    fused = {"fused": True} if cuda else {}
    optimizer = torch.optim.AdamW(transformer.parameters(), lr=lr, weight_decay=0.01, **fused)
    checkpoint = Checkpoint(out / "checkpoints" / "video", every=checkpoint_every)
    pair_set = None
    if pair_steps or handoff_steps:  # the hand-off phase draws two-shape clips too
        pair_path = out / "cache" / f"video-pairs-train-{pair_clips}x{FRAMES}.pt"
        pair_set = build_cache(pipe, pair_path, pair_clips, "train", sampler=sample_pair_clips, name="video-pairs")
    handoff_set = None
    if handoff_steps:
        handoff_path = out / "cache" / f"video-handoff-train-{handoff_clips}x{FRAMES}.pt"
        handoff_set = build_cache(pipe, handoff_path, handoff_clips, "train", name="video-handoff", handoff=True)
    train_set, eval_set, pair_set, handoff_set = (
        None if data is None else {k: v.to(device) for k, v in data.items()}
        for data in (train_set, eval_set, pair_set, handoff_set)
    )

    def loss_at(
        step: int, stage: str = "video", motion_weight: float = 0.0, shape_weight: float = 0.0,
        pairs: bool = False, handoff: bool = False,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        rng = step_rng(stage, step)
        paired = round(batch * PAIR_SHARE) if pairs else 0
        source = handoff_set if handoff else train_set
        idx = torch.from_numpy(rng.choice(source["x0"].shape[0], size=batch - paired, replace=False)).to(device)
        data = {k: v[idx] for k, v in source.items()}
        if paired:
            pair_idx = torch.from_numpy(rng.choice(pair_set["x0"].shape[0], size=paired, replace=False)).to(device)
            data = concat_batches(data, {k: v[pair_idx] for k, v in pair_set.items()})
        generator = torch.Generator(device).manual_seed(int(rng.integers(2**62)))
        weights = dict(motion_weight=motion_weight, shape_weight=shape_weight)
        loss = flow_loss(transformer, data, generator, empty, **weights, temporal=temporal)
        figures = {"held_out": held_out_loss(transformer, eval_set, empty, temporal)} if (step + 1) % 100 == 0 else {}
        return loss, figures

    done = fit(
        "video", transformer, optimizer, loss_at,
        steps=steps, lr=lr, checkpoint=checkpoint, until=until, warmup=200, clip_grad=1.0,
    )
    if not done:
        return None
    phases = (  # stage: motion weight, shape weight, peak lr, two-shape half, hand-off half
        ("video-long", 0.0, 0.0, 0.6 * lr, False, False),
        ("video-more", MOTION_WEIGHT, 0.0, 0.6 * lr, False, False),
        ("video-polish", MOTION_WEIGHT, 0.0, 0.3 * lr, False, False),
        ("video-shape", MOTION_WEIGHT, SHAPE_WEIGHT, 0.3 * lr, False, False),
        ("video-pairs", MOTION_WEIGHT, 0.0, 0.3 * lr, True, False),
        ("video-handoff", MOTION_WEIGHT, 0.0, 0.3 * lr, True, True),
    )
    for stage, weight, shape, peak, pairs, handoff in phases:
        phase_steps = steps_of[stage]
        if not phase_steps:
            continue
        optimizer = torch.optim.AdamW(transformer.parameters(), lr=peak, weight_decay=0.01, **fused)
        fit(
            stage, transformer, optimizer,
            lambda step, s=stage, w=weight, v=shape, p=pairs, h=handoff: loss_at(step, s, w, v, p, h),
            steps=phase_steps, lr=peak, checkpoint=Checkpoint(out / "checkpoints" / stage, every=checkpoint_every),
            warmup=100, clip_grad=1.0,
        )
    transformer.eval()
    target = out / "tiny-wan-i2v"
    pipe.to("cpu").save_pretrained(target, safe_serialization=True)
    return target


class WeightsMismatch(ValueError):
    """Saved transformer weights that do not fit the pipeline being trained."""


def lay_down(out: Path, start_from: Path, stages: dict[str, int], transformer: torch.nn.Module) -> None:
    """Write the transformer weights saved in ``start_from`` as the finished checkpoint of each of
    ``stages`` (name → its step count; a stage of 0 steps is skipped), so that `train` goes on
    from them with the next stage. Stages that already have a checkpoint are left as they are."""
    from diffusers import WanTransformer3DModel

    weights = WanTransformer3DModel.from_pretrained(start_from).state_dict()
    shapes = {k: v.shape for k, v in transformer.state_dict().items()}
    if {k: v.shape for k, v in weights.items()} != shapes:
        raise WeightsMismatch(f"--start-from {start_from}: its tensors do not fit this VAE's transformer")
    fresh = torch.optim.AdamW(transformer.parameters()).state_dict()
    for stage, count in stages.items():
        checkpoint = Checkpoint(out / "checkpoints" / stage)
        if count and not checkpoint.path.is_file():
            checkpoint.directory.mkdir(parents=True, exist_ok=True)
            torch.save({"model": weights, "optimizer": fresh, "step": count}, checkpoint.path)
            log(f"{stage}: laid down {start_from} as its finished checkpoint (step {count})")


@torch.no_grad()
def held_out_loss(
    transformer: torch.nn.Module, eval_set: dict[str, torch.Tensor], empty: torch.Tensor, temporal: int = 4
) -> float:
    """Flow loss on held-out captions at fixed noise (comparable from step to step)."""
    was_training = transformer.training
    transformer.eval()
    generator = torch.Generator(eval_set["x0"].device).manual_seed(0)
    batch = {k: v[:64] for k, v in eval_set.items()}
    loss = flow_loss(transformer, batch, generator, empty, drop=0.0, temporal=temporal).item()
    transformer.train(was_training)
    return loss


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/demo-models"))
    parser.add_argument("--steps", type=int, default=580)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--clips", type=int, default=12000, help="one-shape and two-shape clips for every phase")
    parser.add_argument("--long-steps", type=int, default=928, help="a second phase (warm restart)")
    parser.add_argument("--motion-steps", type=int, default=1624, help="a third phase, motion-weighted")
    parser.add_argument("--polish-steps", type=int, default=524, help="a fourth, motion-weighted at 0.3 lr")
    parser.add_argument("--shape-steps", type=int, default=0, help="a fifth, also weighted toward the shapes")
    parser.add_argument("--pair-steps", type=int, default=524, help="a sixth, half of each batch two-shape clips")
    parser.add_argument("--pair-clips", type=int, default=4000, help="two-shape clips for the sixth and seventh")
    parser.add_argument(
        "--handoff-steps", type=int, default=525, help="a seventh, half of each batch from round-tripped first frames"
    )
    parser.add_argument("--handoff-clips", type=int, default=4000, help="round-tripped-start clips for the seventh")
    parser.add_argument("--start-from", type=Path, default=None, help="a saved transformer folder to go on from")
    parser.add_argument(
        "--start-after", choices=STAGES, default=None, help="with --start-from: the last stage it finished"
    )
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate of the first phase")
    parser.add_argument("--device", default="auto", help="where to train: auto (CUDA if there is one), cuda or cpu")
    parser.add_argument("--layers", type=int, default=TRANSFORMER_CONFIG["num_layers"], help="transformer blocks")
    parser.add_argument("--heads", type=int, default=TRANSFORMER_CONFIG["num_attention_heads"], help="attention heads")
    parser.add_argument("--head-dim", type=int, default=TRANSFORMER_CONFIG["attention_head_dim"], help="a head's width")
    parser.add_argument("--ffn", type=int, default=TRANSFORMER_CONFIG["ffn_dim"], help="feed-forward width")
    parser.add_argument("--checkpoint-every", type=int, default=250, help="steps between checkpoints")
    parser.add_argument("--threads", type=int, default=None, help=THREADS_HELP)
    parser.add_argument("--until", type=int, default=None, help="stop after this step; a later run resumes")
    args = parser.parse_args(argv)
    if (args.start_from is None) != (args.start_after is None):
        parser.error("--start-from and --start-after go together: the weights, and the last stage that made them")
    if args.start_from is not None and not (args.start_from / "config.json").is_file():
        parser.error(f"--start-from {args.start_from}: not a saved transformer folder (no config.json)")
    sizes = dict(num_layers=args.layers, num_attention_heads=args.heads, attention_head_dim=args.head_dim, ffn_dim=args.ffn)
    try:
        train(
            args.out, args.steps, args.batch, args.clips, threads=args.threads, until=args.until,
            long_steps=args.long_steps, motion_steps=args.motion_steps, polish_steps=args.polish_steps,
            shape_steps=args.shape_steps, pair_steps=args.pair_steps, handoff_steps=args.handoff_steps,
            pair_clips=args.pair_clips, handoff_clips=args.handoff_clips,
            start_from=args.start_from, start_after=args.start_after, lr=args.lr, device=args.device,
            checkpoint_every=args.checkpoint_every, sizes=sizes,
        )
    except (WeightsMismatch, ConfigError) as exc:
        parser.error(str(exc))


if __name__ == "__main__":
    main()
