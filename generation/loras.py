"""LoRAs on a loaded Wan pipeline: each file loaded once per process, a shot's set switched on
for its render, none for a shot without (no reload of the model between shots).

Key formats diffusers converts are accepted: its own (``transformer.blocks.N.…lora_A``), the
original Wan release and ComfyUI's (``diffusion_model.blocks.N.…``), Kohya / musubi-tuner's
(``lora_unet_blocks_N_…``). Anything else — another model's LoRA, a file without LoRA keys —
is refused naming the file and what was found.
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shots.threads import MODEL_BUILD

FORMATS = {
    "diffusers": re.compile(r"^transformer\.blocks\.\d+\.(attn1|attn2|ffn)\."),
    "Wan / ComfyUI": re.compile(r"^diffusion_model\.blocks\.\d+\.(self_attn|cross_attn|ffn)\."),
    "Kohya / musubi-tuner": re.compile(r"^lora_unet_blocks_\d+_(self_attn|cross_attn|ffn)"),
}
EXPECTED = ("diffusers (transformer.blocks.N.attn1.to_q.lora_A.weight …), the original Wan release or ComfyUI "
            "(diffusion_model.blocks.N.self_attn.q.lora_A.weight …), or Kohya / musubi-tuner (lora_unet_blocks_N_self_attn_q.lora_down.weight …)")


@dataclass(frozen=True)
class LoraFile:
    """A LoRA a render applies: the file, its checksum (which names the adapter) and strength."""

    path: str
    sha256: str
    scale: float

    @property
    def adapter(self) -> str:
        return f"lora_{self.sha256[:16]}"


def lora_format(path: Path) -> str:
    """The key format of a LoRA file (reads the key names only).

    Raises:
        ValueError: Not a safetensors file, no LoRA keys, or keys of no Wan transformer.
    """
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="np") as handle:
            keys = list(handle.keys())
    except Exception as exc:  # safetensors raises its own error types for any malformed file
        raise ValueError(f"LoRA {path.name}: not a readable safetensors file ({exc})") from None
    lora = [k for k in keys if "lora" in k.lower()]
    if not lora:
        raise ValueError(f"LoRA {path.name}: has no LoRA weights (found keys like {', '.join(keys[:3]) or 'none'}); expected {EXPECTED}")
    for name, pattern in FORMATS.items():
        if any(pattern.match(k) for k in lora):
            return name
    raise ValueError(f"LoRA {path.name}: its keys match no Wan transformer (found e.g. {', '.join(lora[:2])}) — a LoRA "
                     f"for another model? Expected {EXPECTED}")


_BLOCK = re.compile(r"blocks[._](\d+)[._]")
_SELF_ATTENTION = re.compile(r"(attn1\.to_[qkv]|self_attn[._][qkv])[._]")


def transformer_dims(model_dir: Path) -> dict[str, int] | None:
    """The Wan transformer's layer count and width from ``<model>/transformer/config.json``
    (no weights read); None when the folder has none."""
    import json

    try:
        config = json.loads((Path(model_dir) / "transformer" / "config.json").read_text())
        return {"layers": int(config["num_layers"]), "width": int(config["num_attention_heads"]) * int(config["attention_head_dim"])}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def lora_shape_problem(path: Path, dims: dict[str, int]) -> str | None:
    """Why a LoRA cannot apply to a transformer of ``dims`` (a LoRA of another model size):
    a block the model lacks, or a self-attention layer of another width; None when it fits.
    Reads the file's header only."""
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as handle:
        for key in handle.keys():
            if "lora" not in key.lower():
                continue
            block = _BLOCK.search(key)
            if block and int(block.group(1)) >= dims["layers"]:
                return (f"LoRA {path.name}: layer {key.split('.lora')[0]} is in block {block.group(1)}, but this model's "
                        f"transformer has {dims['layers']} blocks — a LoRA for another model size?")
            down = key.endswith(("lora_A.weight", "lora_down.weight"))
            if down and _SELF_ATTENTION.search(key):
                features = handle.get_slice(key).get_shape()[-1]
                if features != dims["width"]:
                    return (f"LoRA {path.name}: layer {key.split('.lora')[0]} takes {features} features, but this model's "
                            f"transformer is {dims['width']} wide — a LoRA for another model size?")
    return None


def _load_one(pipe: Any, lora: LoraFile) -> None:
    from peft.tuners.lora import LoraLayer

    with MODEL_BUILD, warnings.catch_warnings(), _quiet("diffusers", "peft"):  # see shots.threads
        # An I2V LoRA carries image-projection weights that a T2V transformer lacks, and the
        # other way round: peft warns about those keys; they are not an error.
        warnings.simplefilter("ignore")
        pipe.load_lora_weights(lora.path, adapter_name=lora.adapter)
        if getattr(pipe, "transformer_2", None) is not None:  # Wan 2.2 A14B: both experts
            pipe.load_lora_weights(lora.path, adapter_name=lora.adapter, load_into_transformer_2=True)
    layers = [m for m in pipe.transformer.modules() if isinstance(m, LoraLayer) and lora.adapter in m.lora_A]
    if not layers:
        pipe.delete_adapters(lora.adapter)
        raise ValueError(f"LoRA {Path(lora.path).name}: none of its weights fits a module of this transformer — a LoRA for another model?")


class _quiet:
    """Raise the level of some loggers for a block."""

    def __init__(self, *names: str) -> None:
        self.loggers = [logging.getLogger(n) for n in names]

    def __enter__(self) -> None:
        self.levels = [lg.level for lg in self.loggers]
        for lg in self.loggers:
            lg.setLevel(logging.ERROR)

    def __exit__(self, *_: object) -> None:
        for lg, level in zip(self.loggers, self.levels):
            lg.setLevel(level)


def apply_loras(loaded: Any, loras: tuple[LoraFile, ...]) -> None:
    """Switch ``loaded``'s pipeline to exactly ``loras`` (loading files it has not seen);
    with none, every LoRA is disabled and the model computes as if none had been loaded.

    Call under ``loaded.lock``: adapters belong to the shared transformer.
    """
    pipe = loaded.pipe
    for lora in loras:
        if lora.adapter not in loaded.adapters:
            try:
                _load_one(pipe, lora)
            except Exception:  # whatever peft raised: take out the half-loaded adapter, then let it go on
                with contextlib.suppress(Exception):
                    pipe.delete_adapters(lora.adapter)
                raise
            loaded.adapters.add(lora.adapter)
            loaded.lora_loads[lora.sha256] += 1
    if not loaded.adapters:
        return
    if loras:
        pipe.enable_lora()
        pipe.set_adapters([lora.adapter for lora in loras], [lora.scale for lora in loras])
    else:
        pipe.disable_lora()
