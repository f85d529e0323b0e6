"""Tiny random-weight pipelines of every family, built in-process from config (no download).

The same sizes as diffusers' own tests (`tests/pipelines/<family>/test_*.py`), with a T5
tokenizer over a small word list built locally instead of fetched. They paint noise: they
exercise loading, the call arguments of each family and storyreel's plumbing, not quality.
`generation.tiny.make_tiny` saves one with ``save_pretrained``.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

import torch

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


TINY_WAN_BLOCKS = dict(
    patch_size=(1, 2, 2),
    num_attention_heads=2,
    attention_head_dim=12,
    text_dim=TEXT_DIM,
    freq_dim=256,
    ffn_dim=32,
    cross_attn_norm=True,
    qk_norm="rms_norm_across_heads",
)
"""The tiny Wan transformers' block sizes (diffusers' own test sizes), I2V and VACE alike."""


def _wan_transformer(channels: int, image_dim: int | None, rope_max_seq_len: int = 64, two_images: bool = False) -> torch.nn.Module:
    from diffusers import WanTransformer3DModel

    return WanTransformer3DModel(
        **TINY_WAN_BLOCKS,
        in_channels=channels + (20 if channels == 16 else 0),
        out_channels=channels,
        num_layers=2,
        rope_max_seq_len=rope_max_seq_len,
        image_dim=image_dim,
        pos_embed_seq_len=2 * CLIP_TOKENS if two_images else None,
    ).eval()


CLIP_TOKENS = 32 * 32 + 1
"""Tokens the tiny CLIP vision encoder gives per image (32² patches of 1 pixel, and a class token)."""


def build_wan_flf2v() -> object:
    """Tiny Wan 2.1 first–last-frame pipeline: I2V whose transformer reads two images."""
    return build_wan_i2v(two_images=True)


def build_wan_i2v(rope_max_seq_len: int = 64, two_images: bool = False) -> object:
    """Tiny Wan 2.1 image-to-video pipeline (the FACTS.md recipe); FLF2V with ``two_images``."""
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
        transformer=_wan_transformer(16, 4, rope_max_seq_len, two_images),
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


def build_ltx_i2v(pipeline: str = "LTXImageToVideoPipeline") -> object:
    """Tiny LTX-Video pipeline (diffusers' own test sizes): image-to-video, or another LTX class
    over the same components (``LTXConditionPipeline``)."""
    import diffusers
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
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
    vae.use_framewise_encoding = vae.use_framewise_decoding = False
    return getattr(diffusers, pipeline)(
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


def build_ltx_condition() -> object:
    """Tiny `LTXConditionPipeline`: conditions (images, videos) at any frame index."""
    return build_ltx_i2v("LTXConditionPipeline")


def build_wan_vace() -> object:
    """Tiny Wan VACE pipeline (diffusers' test sizes): video + mask + reference images."""
    from diffusers import FlowMatchEulerDiscreteScheduler, WanVACEPipeline, WanVACETransformer3DModel

    torch.manual_seed(0)
    tokenizer = build_tokenizer()
    return WanVACEPipeline(
        tokenizer=tokenizer,
        text_encoder=t5_encoder(True, len(tokenizer)),
        vae=_wan_vae(),
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        transformer=WanVACETransformer3DModel(
            **TINY_WAN_BLOCKS,
            in_channels=16,
            out_channels=16,
            num_layers=3,
            rope_max_seq_len=64,
            vace_layers=[0, 2],
            vace_in_channels=96,
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




CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
"""The ChatML layout Qwen2.5-Instruct uses."""


@dataclass
class PromptModel:
    """A causal LM and its tokenizer, saved together like a hub download."""

    model: object
    tokenizer: object

    def save_pretrained(self, directory: str | Path, **kwargs: object) -> None:
        self.model.save_pretrained(directory, **kwargs)  # type: ignore[attr-defined]
        self.tokenizer.save_pretrained(directory)  # type: ignore[attr-defined]


def build_prompt_lm() -> PromptModel:
    """`build_tiny_prompt_model` as one savable object (``make-tiny --family prompt_lm``)."""
    return PromptModel(*build_tiny_prompt_model())


def build_tiny_prompt_model(seed: int = 0) -> tuple[object, object]:
    """A tiny random-weight Qwen2 causal LM and a word-level tokenizer with a ChatML chat
    template (no download): a `generation.expand.PromptExpander` loads it like a real
    Qwen2.5-Instruct folder once saved with ``save_pretrained``. Its answers are noise."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "[UNK]"]
    words = specials + sorted(set(WORDS) | {"shot", "keep", "word", "for", "caption", "light", "slowly"}) + list(string.punctuation)
    vocab = {w: i for i, w in enumerate(dict.fromkeys(words))}
    core = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(), pre_tokenizers.Punctuation()])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, unk_token="[UNK]", eos_token="<|im_end|>", pad_token="<|endoftext|>",
        additional_special_tokens=specials[:3],
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=1024, eos_token_id=vocab["<|im_end|>"], pad_token_id=vocab["<|endoftext|>"],
        tie_word_embeddings=True,
    )
    return Qwen2ForCausalLM(config).eval(), tokenizer


BUILDERS = {
    "wan": build_wan_i2v,
    "wan_flf2v": build_wan_flf2v,
    "wan22": build_wan22_i2v,
    "wan22_ti2v": build_wan22_ti2v,
    "wan_vace": build_wan_vace,
    "ltx": build_ltx_i2v,
    "ltx_condition": build_ltx_condition,
    "cogvideox": build_cogvideox_i2v,
    "pixart": build_pixart_t2i,
    "prompt_lm": build_prompt_lm,
}
