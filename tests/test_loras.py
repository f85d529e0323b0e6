"""LoRAs, schedulers and memory modes on the tiny Wan model: what loads, what changes the
frames and what does not, what goes stale, and what is refused."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from generation.frames import neutral_frame
from generation.loading import load_pipeline
from generation.loras import LoraFile
from generation.render import render_take
from generation.types import LoadOptions, RenderRequest
from storage.artifacts import sha256_file
from tests.conftest import run_cli

TARGETS = ["attn1.to_q", "attn1.to_k", "attn1.to_v", "attn1.to_out.0", "attn2.to_q", "attn2.to_k", "attn2.to_v",
           "attn2.to_out.0", "ffn.net.0.proj", "ffn.net.2"]


def make_lora(model: Path, out: Path, seed: int) -> Path:
    """A LoRA for the tiny transformer with non-zero weights, saved the diffusers way."""
    from diffusers import WanImageToVideoPipeline
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    pipe = WanImageToVideoPipeline.from_pretrained(model)
    torch.manual_seed(seed)
    pipe.transformer.add_adapter(LoraConfig(r=4, lora_alpha=4, init_lora_weights=False, target_modules=TARGETS))
    out.parent.mkdir(parents=True, exist_ok=True)
    WanImageToVideoPipeline.save_lora_weights(out.parent, transformer_lora_layers=get_peft_model_state_dict(pipe.transformer),
                                              weight_name=out.name)
    return out


def kohya_layout(diffusers_file: Path, out: Path) -> Path:
    """The same LoRA with Kohya / musubi-tuner key names (lora_unet_blocks_N_self_attn_q…)."""
    from safetensors.torch import load_file, save_file

    parts = {"attn1": "self_attn", "attn2": "cross_attn"}
    names = {"to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "o", "net.0.proj": "0", "net.2": "2"}
    converted = {}
    for key, value in load_file(diffusers_file).items():
        block, module, rest = key.removeprefix("transformer.blocks.").split(".", 2)
        sub, which = rest.rsplit(".lora_", 1)
        base = f"lora_unet_blocks_{block}_{parts[module]}_{names[sub]}" if module in parts else f"lora_unet_blocks_{block}_ffn_{names[sub]}"
        kind = "lora_down" if which.startswith("A") else "lora_up"
        converted[f"{base}.{kind}.weight"] = value
        if kind == "lora_down":
            converted[f"{base}.alpha"] = torch.tensor(float(value.shape[0]))
    save_file(converted, out)
    return out


def wan_layout(diffusers_file: Path, out: Path) -> Path:
    """The same LoRA with the original Wan release's / ComfyUI's key names
    (diffusion_model.blocks.N.self_attn.q.lora_A.weight …)."""
    from safetensors.torch import load_file, save_file

    parts = {"attn1": "self_attn", "attn2": "cross_attn", "ffn": "ffn"}
    names = {"to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "o", "net.0.proj": "0", "net.2": "2"}
    converted = {}
    for key, value in load_file(diffusers_file).items():
        block, module, rest = key.removeprefix("transformer.blocks.").split(".", 2)
        sub, which = rest.rsplit(".lora_", 1)
        converted[f"diffusion_model.blocks.{block}.{parts[module]}.{names[sub]}.lora_{which}"] = value
    save_file(converted, out)
    return out


@pytest.fixture(scope="module")
def loras(tiny_models, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("loras")
    style = make_lora(tiny_models["wan"], root / "style.safetensors", 1)
    return {"style": style, "motion": make_lora(tiny_models["wan"], root / "motion.safetensors", 2),
            "kohya": kohya_layout(style, root / "style-kohya.safetensors"), "wan": wan_layout(style, root / "style-wan.safetensors")}


def _request(**changes: object) -> RenderRequest:
    base = RenderRequest("a red circle moves right", "", neutral_frame(32, 32), 32, 32, 9, 2, 5.0, 3)
    return dataclasses.replace(base, **changes)


def _lora(path: Path, scale: float = 1.0) -> LoraFile:
    return LoraFile(str(path), sha256_file(path), scale)


def test_scales_combinations_and_switching_off(tiny_models, loras, tmp_path: Path) -> None:
    loaded = load_pipeline(str(tiny_models["wan"]), LoadOptions(cache_threshold=0.0262))  # a pipeline of its own
    plain = render_take(loaded, _request(), 16).frames
    zero = render_take(loaded, _request(loras=(_lora(loras["style"], 0.0),)), 16).frames
    one = render_take(loaded, _request(loras=(_lora(loras["style"]),)), 16).frames
    kohya = render_take(loaded, _request(loras=(_lora(loras["kohya"]),)), 16).frames
    wan = render_take(loaded, _request(loras=(_lora(loras["wan"]),)), 16).frames
    both = render_take(loaded, _request(loras=(_lora(loras["style"]), _lora(loras["motion"]))), 16).frames
    after = render_take(loaded, _request(), 16).frames  # a shot without LoRAs, after shots with them
    assert np.array_equal(zero, plain) and not np.array_equal(one, plain)
    assert np.array_equal(kohya, one) and np.array_equal(wan, one)  # the Kohya and Wan / ComfyUI layouts are the same LoRA
    assert not np.array_equal(both, one)  # two combine
    assert np.array_equal(after, plain) and np.array_equal(after, _fresh_process_frames(tiny_models["wan"], tmp_path))
    assert sorted(loaded.lora_loads.values()) == [1, 1, 1, 1]  # each file loaded once


def _fresh_process_frames(model: Path, tmp_path: Path) -> np.ndarray:
    """The plain request rendered by a new Python process that never saw a LoRA."""
    import subprocess
    import sys

    out = tmp_path / "fresh.npy"
    code = (f"import numpy as np; from tests.test_loras import _request; from generation.loading import load_pipeline; "
            f"from generation.types import LoadOptions; from generation.render import render_take; "
            f"np.save({str(out)!r}, render_take(load_pipeline({str(model)!r}, LoadOptions(cache_threshold=0.0262)), _request(), 16).frames)")
    run = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parent.parent, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    return np.load(out)


def test_every_scheduler_renders_and_fp8_storage_renders_on_the_cpu(tiny_models) -> None:
    loaded = load_pipeline(str(tiny_models["wan"]), LoadOptions(cache_threshold=0.0263))
    frames = {name: render_take(loaded, _request(scheduler=(name, 3.0)), 16).frames for name in ("unipc", "euler", "dpm++")}
    own = render_take(loaded, _request(), 16).frames
    assert all(f.shape == (9, 32, 32, 3) for f in frames.values())
    assert not np.array_equal(frames["unipc"], frames["dpm++"]) and np.array_equal(own, render_take(loaded, _request(), 16).frames)
    fp8 = load_pipeline(str(tiny_models["wan"]), LoadOptions(memory="fp8_storage"))
    assert fp8.memory == "fp8_storage"
    stored = {p.dtype for p in fp8.pipe.transformer.parameters()}
    assert torch.float8_e4m3fn in stored
    cast = render_take(fp8, _request(), 16).frames
    assert cast.shape == (9, 32, 32, 3) and np.abs(cast.astype(int) - own.astype(int)).mean() < 8


def test_auto_memory_chooses_by_free_memory() -> None:
    from generation.memory import choose_memory

    gib = 2**30
    weights = 32 * gib  # a 14B transformer at bf16 (16.4 B parameters ≈ 32.8 GB)
    assert choose_memory("auto", "cpu", weights, None) == "full"
    assert choose_memory("auto", "cuda", weights, 139 * gib) == "full"  # an H200
    assert choose_memory("auto", "cuda", weights, 24 * gib) == "fp8_storage"  # 16 GiB of fp8 fit in 24 × 0.8
    assert choose_memory("auto", "cuda", weights, 16 * gib) == "group_offload"
    assert choose_memory("fp8_storage", "cuda", weights, 1) == "fp8_storage"  # asked for: not second-guessed


def test_the_out_of_memory_ladder_keeps_less_on_the_device_at_every_step() -> None:
    from generation.memory import LADDER, step_down

    steps, mode = [], "full"
    while (mode := step_down(mode)) is not None:
        steps.append(mode)
    assert steps == ["fp8_storage", "model_offload", "group_offload"]
    assert step_down("model_offload") == "group_offload"  # never back up to all weights on the device
    assert step_down("group_offload") is None and step_down("auto") is None
    assert list(LADDER) == ["full", *steps]
    assert step_down("full", "cpu") == "fp8_storage" and step_down("fp8_storage", "cpu") is None  # no offload off CUDA


def test_guidance_at_most_one_runs_the_transformer_half_as_often(tiny_models) -> None:
    loaded = load_pipeline(str(tiny_models["wan"]))
    calls = []
    handle = loaded.pipe.transformer.register_forward_pre_hook(lambda *_: calls.append(1))
    try:
        render_take(loaded, _request(guidance=5.0, steps=4), 16)
        with_cfg = len(calls)
        calls.clear()
        render_take(loaded, _request(guidance=1.0, steps=4), 16)
    finally:
        handle.remove()
    assert (with_cfg, len(calls)) == (8, 4)


BOARD = """\
title: LoRAs
settings:
  model: {model}
  scorer: 'local-dir:{scorer}'
  width: 32
  height: 32
  fps: 16
  steps: 2
  max_takes: 1
  loras: [{{path: style.safetensors, scale: 0.8}}]
  thresholds: {{prompt: null, color_drift: null, boundary: null, identity: null, temporal: null, motion: null, flicker: null}}
characters:
  ana: {{description: a woman in a red coat, loras: [{{path: ana.safetensors, trigger: ana_lora}}]}}
shots:
  - {{id: a, prompt: Ana walks, characters: [ana], duration: 0.5}}
  - {{id: b, prompt: a street, continuity: cut, duration: 0.5}}
  - {{id: c, prompt: Ana waves, characters: [ana], continuity: cut, duration: 0.5, loras: [{{path: style.safetensors, scale: 0.0}}]}}
"""


@pytest.mark.slow
def test_loras_through_a_storyboard(prefect_harness, tiny_models, tiny_clip_dir, loras, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "film"
    folder.mkdir()
    home = tmp_path / "home"
    (home / "loras").mkdir(parents=True)
    shutil.copy(loras["style"], folder / "style.safetensors")
    shutil.copy(loras["kohya"], home / "loras" / "ana.safetensors")  # found under <home>/loras/
    board = folder / "storyboard.yaml"
    board.write_text(BOARD.format(model=tiny_models["wan"], scorer=tiny_clip_dir))
    code, out, err = run_cli("plan", str(board), "--json")
    prompts = {r["id"]: r["prompt"] for r in json.loads(out)}
    assert prompts["a"].startswith("ana_lora. ") and prompts["c"].startswith("ana_lora. ") and "ana_lora" not in prompts["b"]
    code, out, err = run_cli("render", str(board), "--home", str(home), "--no-review", "--json")
    assert code == 0, err
    from flows.settings import load_settings
    from production.store import transaction
    from storage.repo import get_project, live_shots

    def takes() -> dict:
        with transaction(load_settings(home).database()) as s:
            return {shot.key: [(t.params, t.media_sha256) for t in shot.takes] for shot in live_shots(s, get_project(s, "film"))}

    first = takes()
    recorded = {k: [(lora["file"], lora["scale"]) for lora in v[-1][0]["loras"]] for k, v in first.items()}
    assert recorded == {"a": [("style.safetensors", 0.8), ("ana.safetensors", 1.0)], "b": [("style.safetensors", 0.8)],
                        "c": [("ana.safetensors", 1.0), ("style.safetensors", 0.0)]}
    assert first["a"][-1][0]["loras"][1]["sha256"] == sha256_file(home / "loras" / "ana.safetensors")
    assert first["a"][-1][0]["scheduler"] == "the model's own" and first["a"][-1][0]["memory"] == "full"
    from generation.loading import PIPELINES

    loads = [loaded.lora_loads for (model, _), loaded in PIPELINES._items.items() if model == str(tiny_models["wan"])]
    assert any(sorted(c.values()) == [1, 1] for c in loads)  # 3 shots, 2 LoRA files: 2 loads
    # a changed LoRA file makes exactly the shots that use it stale
    make_lora(tiny_models["wan"], home / "loras" / "ana.safetensors", 9)
    code, out, err = run_cli("submit", str(board), "--home", str(home), "--json")
    assert {c["id"]: c["state"] for c in json.loads(out)} == {"a": "stale", "b": "unchanged", "c": "stale"}
    assert {c["id"]: c["reason"] for c in json.loads(out)}["a"] == "LoRA file changed"
    board.write_text(board.read_text().replace("scheduler", "x").replace("  steps: 2\n", "  steps: 2\n  scheduler: euler\n  flow_shift: 3\n"))
    code, out, err = run_cli("submit", str(board), "--home", str(home), "--json")
    assert {c["state"] for c in json.loads(out)} == {"stale"}  # the scheduler is every shot's input


@pytest.mark.parametrize(
    ("entry", "extra", "needle"),
    [
        ("{path: missing.safetensors}", None, "settings.loras.0: LoRA 'missing.safetensors' does not exist"),
        ("{path: style.ckpt}", None, "LoRA 'style.ckpt' is not a .safetensors file"),
        ("{path: ../outside.safetensors}", None, "must be a path inside the storyboard's folder or under <home>/loras/"),
        ("{path: flux.safetensors}", {"transformer.transformer_blocks.0.attn.to_q.lora_A.weight": torch.zeros(4, 8)},
         "its keys match no Wan transformer (found e.g. transformer.transformer_blocks.0.attn.to_q.lora_A.weight) — a LoRA for another model?"),
        ("{path: model.safetensors}", {"blocks.0.attn1.to_q.weight": torch.zeros(4, 8)}, "has no LoRA weights"),
        # a LoRA of another model size (the demo transformer is 160 wide, 4 blocks): refused at validate
        ("{path: wide.safetensors}", {"transformer.blocks.0.attn1.to_q.lora_A.weight": torch.zeros(4, 1536),
                                      "transformer.blocks.0.attn1.to_q.lora_B.weight": torch.zeros(1536, 4)},
         "layer transformer.blocks.0.attn1.to_q takes 1536 features, but this model's transformer is 160 wide"),
        ("{path: deep.safetensors}", {"transformer.blocks.29.attn1.to_q.lora_A.weight": torch.zeros(4, 160)},
         "is in block 29, but this model's transformer has 4 blocks"),
    ],
)
def test_bad_loras_are_refused_naming_the_file(write, tmp_path: Path, entry: str, extra: dict | None, needle: str) -> None:
    from safetensors.torch import save_file

    if extra is not None:
        save_file(extra, tmp_path / entry.split(": ")[1].rstrip("}"))
    (tmp_path / "style.ckpt").write_bytes(b"pickle")
    board = write("board.yaml", f"title: t\nsettings: {{loras: [{entry}]}}\nshots:\n  - {{id: a, prompt: x}}\n")
    home = tmp_path / "home"
    for command in ("validate", "render", "submit"):
        code, out, err = run_cli(command, str(board), "--home", str(home))
        assert code == 2 and needle in err and "Traceback" not in out + err, (command, err)
    assert not home.exists()  # nothing stored


@pytest.mark.slow
def test_a_lora_that_fails_to_apply_is_a_recorded_take_failure(prefect_harness, tiny_models, tmp_path: Path) -> None:
    """Its feed-forward layer has another width (validate reads self-attention only): the take
    fails with one line, the shot is not left rendering, exit 1, no traceback."""
    from safetensors.torch import save_file

    folder = tmp_path / "film"
    folder.mkdir()
    save_file({"transformer.blocks.0.ffn.net.0.proj.lora_A.weight": torch.zeros(4, 999),
               "transformer.blocks.0.ffn.net.0.proj.lora_B.weight": torch.zeros(32, 4)}, folder / "odd.safetensors")
    board = folder / "storyboard.yaml"
    board.write_text(f"title: t\nsettings: {{model: {tiny_models['wan']}, width: 32, height: 32, steps: 2, max_takes: 1, "
                     "loras: [{path: odd.safetensors}]}\nshots:\n  - {id: a, prompt: a red circle moves right, duration: 0.5}\n")
    home = tmp_path / "home"
    code, out, err = run_cli("render", str(board), "--home", str(home), "--no-review")
    assert code == 1 and "the LoRAs could not be applied" in err and "Traceback" not in out + err, err
    assert len(err.splitlines()) < 12
    rows = json.loads(run_cli("status", "film", "--home", str(home), "--json")[1])
    assert [(r["id"], r["status"] != "rendering", r["failed_takes"]) for r in rows] == [("a", True, 1)]
