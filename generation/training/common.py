"""What every training stage shares: seeding, checkpoints that resume, one-line logs."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

SEED = 20261124


def step_rng(stage: str, step: int, seed: int = SEED) -> np.random.Generator:
    """The data generator of one step: a function of (seed, stage, step) only, so resuming
    from a checkpoint draws exactly the batches an uninterrupted run would."""
    return np.random.default_rng([seed, sum(map(ord, stage)), step])


THREADS_HELP = ("CPU threads (default: the count the committed weights were trained with, so they are reproduced "
                "bit for bit; another count trains slightly other weights)")


def set_threads(threads: int | None, default: int) -> None:
    """Use ``threads`` CPU threads, else the stage's ``default``: the count its committed weights
    were trained with. Float sums run in a thread-dependent order, so another count trains to
    (slightly) other weights; with the default a rerun reproduces them bit for bit."""
    torch.set_num_threads(threads or default)


def lr_at(step: int, steps: int, peak: float, warmup: int = 100) -> float:
    """Linear warm-up, then cosine decay to a tenth of ``peak``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return float(peak * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * min(1.0, progress)))))


@dataclass
class Checkpoint:
    """``<dir>/checkpoint.pt``: model, optimiser and step, written atomically every few steps."""

    directory: Path
    every: int = 200

    @property
    def path(self) -> Path:
        return self.directory / "checkpoint.pt"

    def resume(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> int:
        """Load the last checkpoint if there is one; the step to start from."""
        if not self.path.is_file():
            return 0
        state = torch.load(self.path, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        log(f"resumed from {self.path} at step {state['step']}")
        return int(state["step"])

    def maybe_save(self, step: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer, force: bool = False) -> None:
        """Save after ``step`` steps when it is a multiple of ``every`` (or when forced)."""
        if not force and step % self.every:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step}, tmp)
        os.replace(tmp, self.path)


def log(message: str, **figures: Any) -> None:
    """One flushed line, e.g. ``vae step 200 loss=0.0123 psnr=31.2``."""
    parts = [message] + [f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()]
    print(" ".join(parts), file=sys.stdout, flush=True)


def decibels(mse: float) -> float:
    """Peak signal-to-noise ratio in dB of a mean squared error between values in [-1, 1]."""
    return float(10 * np.log10(4.0 / max(mse, 1e-12)))


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB of two tensors in [-1, 1]."""
    return decibels(torch.mean((a.clamp(-1, 1) - b.clamp(-1, 1)) ** 2).item())


def to_tensor(clips: np.ndarray) -> torch.Tensor:
    """uint8 (B, F, H, W, 3) → float (B, 3, F, H, W) in [-1, 1]."""
    return torch.from_numpy(clips).permute(0, 4, 1, 2, 3).float().div(127.5).sub(1.0)


def fit(
    name: str,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_at: Callable[[int], tuple[torch.Tensor, dict[str, float]]],
    *,
    steps: int,
    lr: float,
    checkpoint: Checkpoint,
    until: int | None = None,
    warmup: int = 100,
    clip_grad: float | None = None,
    log_every: int = 100,
) -> bool:
    """Optimise ``loss_at(step)`` (the loss and figures to log) from the last checkpoint to
    ``steps`` (or ``until``). True when all ``steps`` are done, False when stopped early."""
    start = checkpoint.resume(model, optimizer)
    for step in range(start, min(steps, until or steps)):
        loss, figures = loss_at(step)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, steps, lr, warmup)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip_grad is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad)
        optimizer.step()
        if (step + 1) % log_every == 0:
            log(f"{name} step {step + 1}/{steps}", loss=loss.item(), **figures)
        checkpoint.maybe_save(step + 1, model, optimizer)
    if until is not None and until < steps:
        checkpoint.maybe_save(until, model, optimizer, force=True)
        log(f"{name}: stopped at step {until}; run again to resume")
        return False
    checkpoint.maybe_save(steps, model, optimizer, force=True)
    return True
