"""Running a local causal language model to expand prompts (`shots.expansion` says what it is
asked and which answers are kept).

Any transformers causal-LM folder with a chat template works (a Qwen2.5-Instruct download, or
the tiny random one `generation.builders.build_tiny_prompt_model` writes for tests). Decoding is
greedy, so the same prompt and model give the same answer, which is what lets answers be cached.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from shots.errors import ModelLoadError

MAX_NEW_TOKENS = 240
_WEIGHTS = (".safetensors", ".bin", ".gguf", ".pt")


class Expander(Protocol):
    """Answers chats; the real one is `PromptExpander`."""

    def answer(self, chats: list[list[dict[str, str]]]) -> list[str]: ...


def model_identity(model_dir: str | Path) -> str:
    """A digest naming a model folder's contents: its config and tokenizer files' bytes, and its
    weight files' names, sizes and modification times (reading gigabytes of weights to name
    them would cost more than the expansion).

    Raises:
        ModelLoadError: The folder is not a transformers model folder.
    """
    folder = Path(model_dir).expanduser()
    config = folder / "config.json"
    if not config.is_file():
        raise ModelLoadError(f"prompt_model {str(model_dir)!r} is not a transformers model folder (no config.json in {str(folder)!r})")
    h = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if not path.is_file():
            continue
        if path.suffix in _WEIGHTS:
            stat = path.stat()
            h.update(json.dumps([path.name, stat.st_size, stat.st_mtime_ns]).encode())
        elif path.suffix in {".json", ".jinja", ".txt", ".model"} and path.stat().st_size <= 64 * 2**20:
            h.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def check_prompt_model(model_dir: str | Path) -> None:
    """Refuse, without loading weights, a folder that cannot be a prompt model: no config, or a
    tokenizer without a chat template.

    Raises:
        ModelLoadError: Saying what is missing.
    """
    folder = Path(model_dir).expanduser()
    model_identity(folder)  # config.json
    template = (folder / "chat_template.jinja").is_file() or (folder / "chat_template.json").is_file()
    try:
        config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
        template = template or bool(config.get("chat_template"))
    except (OSError, ValueError, AttributeError):
        raise ModelLoadError(f"prompt_model {str(model_dir)!r} has no tokenizer (no readable tokenizer_config.json)") from None
    if not template:
        raise ModelLoadError(
            f"prompt_model {str(model_dir)!r} has no chat template; use an instruction-tuned model "
            "(e.g. a Qwen2.5-Instruct folder)"
        )


@dataclass
class PromptExpander:
    """A causal LM and its tokenizer, loaded from a local folder (never the hub).

    Raises:
        ModelLoadError: The folder does not load, or its tokenizer has no chat template.
    """

    model_dir: str
    device: str = "cpu"
    max_new_tokens: int = MAX_NEW_TOKENS

    def __post_init__(self) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # one line per shot in storyreel's own output, not bars
        folder = str(Path(self.model_dir).expanduser())
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            self.model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True).to(self.device).eval()
        except (OSError, ValueError, KeyError) as exc:
            raise ModelLoadError(f"cannot load prompt_model {self.model_dir!r}: {str(exc).splitlines()[0]}") from None
        if not getattr(self.tokenizer, "chat_template", None):
            raise ModelLoadError(
                f"prompt_model {self.model_dir!r} has no chat template; use an instruction-tuned model "
                "(e.g. a Qwen2.5-Instruct folder)"
            )

    def answer(self, chats: list[list[dict[str, str]]]) -> list[str]:
        """The model's greedy answer to each chat, without the chat markup."""
        import torch

        answers = []
        for chat in chats:
            text = self.tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
            inputs = self.tokenizer(text, return_tensors="pt", add_special_tokens=False).to(self.device)
            with torch.inference_mode():
                out = self.model.generate(
                    **inputs,
                    max_new_tokens=self.max_new_tokens,
                    do_sample=False,
                    pad_token_id=self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id,
                )
            new = out[0, inputs["input_ids"].shape[1] :]
            answers.append(self.tokenizer.decode(new, skip_special_tokens=True).strip())
        return answers
