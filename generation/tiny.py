"""Tiny pipelines: the trained embedded demo model, and random-weight builders for tests.

``model: tiny`` is a small Wan 2.1 image-to-video pipeline trained on the synthetic motion world
(`generation.training`) and committed under ``generation/weights/``; it loads through
``from_pretrained`` on that folder like real weights. The random builders here (one per family,
`make_tiny`, ``storyreel models make-tiny --random``) exercise the same loading path for every
supported family without any download; they paint noise.
"""

from __future__ import annotations

import shutil
import string
import tempfile
from pathlib import Path

import torch

from shots.files import check_target, mark, replace_folder

WEIGHTS = Path(__file__).resolve().parent / "weights"
"""Where `python -m generation.training --install` puts the trained demo models."""

WORDS = (
    "a an the and with on in of to at by is are moves move grows grow shrinks shrink spins spin "
    "bounces bounce enters leaves meets meet together left right up down red blue green yellow "
    "orange purple white black "
    "pink circle square triangle star shape shapes background plain flat coloured colored "
    "camera static wide shot close slow fast"
).split()

TEXT_DIM = 32


def build_tokenizer() -> object:
    """A T5 tokenizer over a small word list plus single characters (no download)."""
    from transformers import T5Tokenizer

    pieces = ["<pad>", "</s>", "<unk>"] + ["▁" + w for w in WORDS]
    pieces += ["▁"] + list(string.ascii_lowercase + string.digits + string.punctuation)
    vocab = [(p, 0.0 if i < 3 else -float(i)) for i, p in enumerate(dict.fromkeys(pieces))]
    return T5Tokenizer(vocab=vocab, extra_ids=0)


def t5_encoder(umt5: bool, vocab_size: int, d_model: int = TEXT_DIM, d_kv: int = 8, d_ff: int = 32) -> torch.nn.Module:
    """A tiny random (UM)T5 encoder: two layers, four heads, no dropout."""
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    kwargs = dict(
        vocab_size=vocab_size,
        d_model=d_model,
        d_kv=d_kv,
        d_ff=d_ff,
        num_layers=2,
        num_heads=4,
        dropout_rate=0.0,
        relative_attention_num_buckets=8,
    )
    if umt5:
        return UMT5EncoderModel(UMT5Config(**kwargs)).eval()
    return T5EncoderModel(T5Config(**kwargs)).eval()


def _wan_vae() -> torch.nn.Module:
    from diffusers import AutoencoderKLWan

    return AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    ).eval()


def _wan_transformer(channels: int, image_dim: int | None, rope_max_seq_len: int = 64) -> torch.nn.Module:
    from diffusers import WanTransformer3DModel

    return WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=channels + (20 if channels == 16 else 0),
        out_channels=channels,
        text_dim=TEXT_DIM,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=rope_max_seq_len,
        image_dim=image_dim,
    ).eval()


def build_wan_i2v(rope_max_seq_len: int = 64) -> object:
    """Tiny Wan 2.1 image-to-video pipeline (the FACTS.md recipe)."""
    from diffusers import FlowMatchEulerDiscreteScheduler, WanImageToVideoPipeline
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    torch.manual_seed(0)
    tokenizer = build_tokenizer()
    return WanImageToVideoPipeline(
        tokenizer=tokenizer,
        text_encoder=t5_encoder(True, len(tokenizer)),
        vae=_wan_vae(),
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        image_processor=CLIPImageProcessor(crop_size=32, size=32),
        image_encoder=CLIPVisionModel(
            CLIPVisionConfig(
                hidden_size=4,
                num_hidden_layers=2,
                num_attention_heads=2,
                image_size=32,
                intermediate_size=16,
                patch_size=1,
            )
        ).eval(),
        transformer=_wan_transformer(16, 4, rope_max_seq_len),
    )


def build_wan22_i2v() -> object:
    """Tiny Wan 2.2 A14B-style image-to-video pipeline: two experts split at a boundary."""
    from diffusers import UniPCMultistepScheduler, WanImageToVideoPipeline

    torch.manual_seed(0)
    tokenizer = build_tokenizer()
    return WanImageToVideoPipeline(
        tokenizer=tokenizer,
        text_encoder=t5_encoder(True, len(tokenizer)),
        vae=_wan_vae(),
        scheduler=UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0),
        transformer=_wan_transformer(16, None),
        transformer_2=_wan_transformer(16, None),
        boundary_ratio=0.875,
    )


def build_wan22_ti2v() -> object:
    """Tiny Wan 2.2 TI2V-5B-style pipeline: 48-channel VAE with 16× spatial compression."""
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanImageToVideoPipeline

    torch.manual_seed(0)
    tokenizer = build_tokenizer()
    vae = AutoencoderKLWan(
        base_dim=3,
        z_dim=48,
        in_channels=12,
        out_channels=12,
        is_residual=True,
        patch_size=2,
        latents_mean=[0.0] * 48,
        latents_std=[1.0] * 48,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        scale_factor_spatial=16,
        scale_factor_temporal=4,
        temperal_downsample=[False, True, True],
    ).eval()
    return WanImageToVideoPipeline(
        tokenizer=tokenizer,
        text_encoder=t5_encoder(True, len(tokenizer)),
        vae=vae,
        scheduler=UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0),
        transformer=_wan_transformer(48, None),
        expand_timesteps=True,
    )


def build_ltx_i2v() -> object:
    """Tiny LTX-Video image-to-video pipeline (diffusers' own test sizes)."""
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXImageToVideoPipeline,
        LTXVideoTransformer3DModel,
    )

    torch.manual_seed(0)
    tokenizer = build_tokenizer()
    vae = AutoencoderKLLTXVideo(
        in_channels=3,
        out_channels=3,
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False),
        decoder_inject_noise=(False, False, False, False, False),
        upsample_residual=(False, False, False, False),
        upsample_factor=(1, 1, 1, 1),
        timestep_conditioning=False,
        patch_size=1,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    ).eval()
    return LTXImageToVideoPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=vae,
        text_encoder=t5_encoder(False, len(tokenizer)),
        tokenizer=tokenizer,
        transformer=LTXVideoTransformer3DModel(
            in_channels=8,
            out_channels=8,
            patch_size=1,
            patch_size_t=1,
            num_attention_heads=4,
            attention_head_dim=8,
            cross_attention_dim=32,
            num_layers=2,
            caption_channels=TEXT_DIM,
        ).eval(),
    )


def build_cogvideox_i2v() -> object:
    """Tiny CogVideoX image-to-video pipeline (RoPE, no learned positions: any size)."""
    from diffusers import (
        AutoencoderKLCogVideoX,
        CogVideoXDDIMScheduler,
        CogVideoXImageToVideoPipeline,
        CogVideoXTransformer3DModel,
    )

    torch.manual_seed(0)
    tokenizer = build_tokenizer()
    return CogVideoXImageToVideoPipeline(
        tokenizer=tokenizer,
        text_encoder=t5_encoder(False, len(tokenizer)),
        vae=AutoencoderKLCogVideoX(
            in_channels=3,
            out_channels=3,
            down_block_types=("CogVideoXDownBlock3D",) * 4,
            up_block_types=("CogVideoXUpBlock3D",) * 4,
            block_out_channels=(8, 8, 8, 8),
            latent_channels=4,
            layers_per_block=1,
            norm_num_groups=2,
            temporal_compression_ratio=4,
        ).eval(),
        transformer=CogVideoXTransformer3DModel(
            num_attention_heads=2,
            attention_head_dim=16,
            in_channels=8,
            out_channels=4,
            time_embed_dim=2,
            text_embed_dim=TEXT_DIM,
            num_layers=2,
            sample_width=4,
            sample_height=4,
            sample_frames=9,
            patch_size=2,
            temporal_compression_ratio=4,
            max_text_seq_length=64,
            use_rotary_positional_embeddings=True,
            use_learned_positional_embeddings=False,
        ).eval(),
        scheduler=CogVideoXDDIMScheduler(),
    )


def build_pixart_t2i() -> object:
    """Tiny PixArt-α text-to-image pipeline, for keyframes of cut shots (tests)."""
    from diffusers import AutoencoderKL, DDIMScheduler, PixArtAlphaPipeline, PixArtTransformer2DModel

    torch.manual_seed(0)
    tokenizer = build_tokenizer()
    return PixArtAlphaPipeline(
        tokenizer=tokenizer,
        text_encoder=t5_encoder(False, len(tokenizer)),
        vae=AutoencoderKL().eval(),
        scheduler=DDIMScheduler(),
        transformer=PixArtTransformer2DModel(
            sample_size=8,
            num_layers=2,
            patch_size=2,
            attention_head_dim=8,
            num_attention_heads=3,
            caption_channels=TEXT_DIM,
            in_channels=4,
            cross_attention_dim=24,
            out_channels=8,
            attention_bias=True,
            activation_fn="gelu-approximate",
            num_embeds_ada_norm=1000,
            norm_type="ada_norm_single",
            norm_elementwise_affine=False,
            norm_eps=1e-6,
        ).eval(),
    )


BUILDERS = {
    "wan": build_wan_i2v,
    "wan22": build_wan22_i2v,
    "wan22_ti2v": build_wan22_ti2v,
    "ltx": build_ltx_i2v,
    "cogvideox": build_cogvideox_i2v,
    "pixart": build_pixart_t2i,
}


def make_tiny(directory: Path, family: str = "wan", force: bool = False) -> Path:
    """Build a tiny random pipeline of ``family`` and save it to ``directory`` atomically.

    ``directory`` must be new or empty, or a storyreel model replaced with ``force``
    (`shots.files.replace_folder`): a user's folder is never written over.
    """
    if family not in BUILDERS:
        raise ValueError(f"no tiny builder for {family!r}; choose from {', '.join(BUILDERS)}")
    from generation.loading import quiet_progress_bars

    directory = Path(directory)
    check_target(directory, force)  # before minutes of work, not after
    quiet_progress_bars()
    directory.parent.mkdir(parents=True, exist_ok=True)
    pipe = BUILDERS[family]()
    with tempfile.TemporaryDirectory(dir=directory.parent, prefix=".tiny-") as tmp:
        staging = Path(tmp) / "model"
        pipe.save_pretrained(staging, safe_serialization=True)
        mark(staging, f"tiny random {family} pipeline")
        replace_folder(staging, directory, force)
    return directory


def copy_trained(directory: Path, force: bool = False) -> Path:
    """Copy the committed trained demo pipeline to ``directory`` (same rules as `make_tiny`)."""
    trained = trained_model()
    if trained is None:
        raise FileNotFoundError("this installation has no trained demo model")
    directory = Path(directory)
    check_target(directory, force)
    directory.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory.parent, prefix=".tiny-") as tmp:
        staging = Path(shutil.copytree(trained, Path(tmp) / "model"))
        mark(staging, "trained tiny wan pipeline (the embedded demo model)")
        replace_folder(staging, directory, force)
    return directory


def trained_model() -> Path | None:
    """The committed trained demo pipeline, if this installation has it."""
    path = WEIGHTS / "tiny-wan-i2v"
    return path if (path / "model_index.json").is_file() else None


def trained_scorer() -> Path | None:
    """The committed trained demo scorer (an open_clip ``local-dir`` folder), if present."""
    path = WEIGHTS / "tiny-clip"
    return path if (path / "open_clip_config.json").is_file() else None


def ensure_tiny(directory: Path) -> Path:
    """The embedded default model: ``directory`` when something is saved there (e.g. by
    ``storyreel models make-tiny --random``), else the committed trained model, else a random
    one built there on first use."""
    if (Path(directory) / "model_index.json").is_file():
        return Path(directory)
    trained = trained_model()
    if trained is not None:
        return trained
    make_tiny(directory, "wan")
    return Path(directory)
