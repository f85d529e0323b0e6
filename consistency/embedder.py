"""open_clip image/text embeddings, batched on the take's device.

A scorer is named by one string:

| scorer                               | loads                                                  |
|--------------------------------------|--------------------------------------------------------|
| ``ViT-B-32:laion2b_s34b_b79k``       | a pretrained tag (needs the hub; fails at once offline) |
| ``ViT-B-32:/path/weights.safetensors`` | an architecture with a local checkpoint file           |
| ``local-dir:/path``                  | a folder with open_clip_config.json + weights           |

The embedded ``tiny`` scorer is a random-weight open_clip model the project builds and saves
as a ``local-dir:`` folder, then loads through that same path.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shots.threads import MODEL_BUILD
from shots.errors import ModelLoadError, ScoringError
from shots.files import mark, replace_folder

DEFAULT_REAL_SCORER = "ViT-B-32:laion2b_s34b_b79k"
TINY_CLIP_CONFIG: dict[str, Any] = {
    "embed_dim": 64,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "head_width": 32, "patch_size": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}
_LOCK = threading.Lock()
_CACHE: dict[tuple[str, str], Embedder] = {}


def make_tiny_clip(directory: Path, seed: int = 0) -> Path:
    """Build a random tiny open_clip model and save it as a ``local-dir:`` folder."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    model = open_clip.CLIP(**TINY_CLIP_CONFIG)
    directory = Path(directory)
    staging = directory.with_name(directory.name + ".partial")
    staging.mkdir(parents=True, exist_ok=True)
    config = {
        "model_cfg": TINY_CLIP_CONFIG,
        "preprocess_cfg": {"mean": list(open_clip.OPENAI_DATASET_MEAN), "std": list(open_clip.OPENAI_DATASET_STD)},
    }
    (staging / "open_clip_config.json").write_text(json.dumps(config, indent=2))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, staging / "open_clip_model.safetensors")
    mark(staging, "tiny random open_clip scorer")
    return replace_folder(staging, directory, force=True)


def ensure_tiny_clip(directory: Path) -> str:
    """The embedded scorer's ``local-dir:`` spec, building it on first use."""
    if not (Path(directory) / "open_clip_model.safetensors").is_file():
        make_tiny_clip(directory)
    return f"local-dir:{directory}"


@dataclass
class Embedder:
    """A loaded open_clip model with batched preprocessing.

    Attributes:
        spec: The scorer string it was loaded from.
        image_size: Square input size of the vision tower.
    """

    spec: str
    model: Any
    tokenizer: Any
    device: str
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def embed_images(self, frames: np.ndarray, batch: int = 64) -> np.ndarray:
        """Unit-norm embeddings (F, D) of uint8 (F, H, W, 3) frames, in batches of ``batch``."""
        import torch
        import torch.nn.functional as F

        if not isinstance(frames, np.ndarray) or frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
            shape = getattr(frames, "shape", type(frames).__name__)
            raise ScoringError(f"frames must be a non-empty uint8 (F, H, W, 3) array, got {shape}")
        if frames.dtype != np.uint8:
            raise ScoringError(f"frames must be uint8, got {frames.dtype}")
        mean = torch.tensor(self.mean, device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=self.device).view(1, 3, 1, 1)
        out = []
        with torch.inference_mode():
            for start in range(0, len(frames), batch):
                x = torch.tensor(frames[start : start + batch], device=self.device)
                x = x.permute(0, 3, 1, 2).float() / 255.0  # (B, 3, H, W)
                # Resize the short side to image_size, then centre-crop: open_clip's recipe, batched.
                h, w = x.shape[-2:]
                scale = self.image_size / min(h, w)
                size = (max(self.image_size, round(h * scale)), max(self.image_size, round(w * scale)))
                x = F.interpolate(x, size=size, mode="bicubic", antialias=True, align_corners=False)
                top = (x.shape[-2] - self.image_size) // 2
                left = (x.shape[-1] - self.image_size) // 2
                x = x[..., top : top + self.image_size, left : left + self.image_size].clamp(0, 1)
                emb = self.model.encode_image((x - mean) / std)  # (B, D)
                out.append(F.normalize(emb.float(), dim=-1).cpu().numpy())
        return np.concatenate(out)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """Unit-norm text embeddings (T, D)."""
        import torch
        import torch.nn.functional as F

        with torch.inference_mode():
            tokens = self.tokenizer(texts).to(self.device)
            return F.normalize(self.model.encode_text(tokens).float(), dim=-1).cpu().numpy()


def _split(spec: str) -> tuple[str, str | None]:
    if spec.startswith("local-dir:"):
        return spec, None
    name, sep, pretrained = spec.partition(":")
    if not sep or not pretrained:
        raise ModelLoadError(
            f"scorer {spec!r} needs weights: use NAME:TAG (e.g. {DEFAULT_REAL_SCORER}), "
            "NAME:/path/to/checkpoint or local-dir:/path"
        )
    return name, pretrained


def check_scorer(spec: str) -> tuple[str, str | None]:
    """Refuse a scorer that cannot load here, without loading it; returns (name, pretrained)."""
    import open_clip

    name, pretrained = _split(spec)
    if name.startswith("local-dir:") and not Path(name.removeprefix("local-dir:")).is_dir():
        raise ModelLoadError(f"scorer folder {name.removeprefix('local-dir:')!r} does not exist")
    if not name.startswith("local-dir:") and name not in open_clip.list_models():
        raise ModelLoadError(f"scorer architecture {name!r} is unknown to open_clip (e.g. ViT-B-32, ViT-L-14)")
    if pretrained and ("/" in pretrained or pretrained.endswith((".safetensors", ".bin", ".pt", ".pth"))):
        if not Path(pretrained).is_file():
            raise ModelLoadError(f"scorer checkpoint {pretrained!r} does not exist")
    elif pretrained and os.environ.get("HF_HUB_OFFLINE") == "1":
        known = open_clip.list_pretrained_tags_by_model(name)
        where = "the model hub" if pretrained in known else "anywhere"
        raise ModelLoadError(
            f"scorer {spec!r} would be fetched from {where}, but HF_HUB_OFFLINE=1; "
            "download it once and use NAME:/path/to/open_clip_model.safetensors"
        )
    return name, pretrained


def load_embedder(spec: str, device: str = "cpu") -> Embedder:
    """Load (once per process) the open_clip model named by ``spec``."""
    key = (spec, device)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        import open_clip

        name, pretrained = check_scorer(spec)
        try:
            with MODEL_BUILD:  # not while another thread builds a pipeline (shots.threads)
                model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=pretrained, device=device)
            tokenizer = open_clip.get_tokenizer(name)
        except (RuntimeError, ValueError, OSError, KeyError) as exc:
            raise ModelLoadError(f"cannot load scorer {spec!r}: {exc}") from None
        model.eval()
        cfg = getattr(model.visual, "preprocess_cfg", {}) or {}
        size = model.visual.image_size
        size = size[0] if isinstance(size, (tuple, list)) else int(size)
        embedder = Embedder(
            spec=spec,
            model=model,
            tokenizer=tokenizer,
            device=device,
            image_size=size,
            mean=tuple(cfg.get("mean", open_clip.OPENAI_DATASET_MEAN)),
            std=tuple(cfg.get("std", open_clip.OPENAI_DATASET_STD)),
        )
        _CACHE[key] = embedder
        return embedder
