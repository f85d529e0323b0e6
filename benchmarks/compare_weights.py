"""How far two trained model folders are apart, tensor by tensor (for `make train-demo-models`).

    .venv/bin/python benchmarks/compare_weights.py build/demo-models/tiny-wan-i2v generation/weights/tiny-wan-i2v

Pairs the ``*.safetensors`` files of the two folders by relative path and prints, per file, how
many tensors are bit-identical, the largest absolute difference and the mean relative difference
(‖a − b‖ / ‖b‖). Training is deterministic for one thread count and torch build, so a rerun
with each stage's default threads matches bit for bit; another thread count (or torch build)
drifts in the last bits (figures in benchmarks/README.md). Exit 1 when the folders hold different files or tensors.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FileDrift:
    """One safetensors file compared with its counterpart."""

    path: str
    tensors: int
    identical: int
    max_abs: float
    mean_rel: float


def compare_folders(a: Path, b: Path) -> list[FileDrift]:
    """Per-file drift of ``a`` from ``b``.

    Raises:
        ValueError: The folders hold different safetensors files, tensor names or shapes.
    """
    import torch
    from safetensors.torch import load_file

    files_a = sorted(p.relative_to(a).as_posix() for p in a.rglob("*.safetensors"))
    files_b = sorted(p.relative_to(b).as_posix() for p in b.rglob("*.safetensors"))
    if files_a != files_b or not files_a:
        raise ValueError(f"{a} has {files_a or 'no safetensors files'}, {b} has {files_b or 'none'}")
    drifts = []
    for name in files_a:
        x, y = load_file(a / name), load_file(b / name)
        if x.keys() != y.keys() or any(x[k].shape != y[k].shape for k in x):
            raise ValueError(f"{name}: tensor names or shapes differ")
        diffs = [(x[k].double() - y[k].double()) for k in x]
        drifts.append(FileDrift(
            name,
            len(x),
            sum(torch.equal(x[k], y[k]) for k in x),
            max(float(d.abs().max()) if d.numel() else 0.0 for d in diffs),
            sum(float(d.norm() / y[k].double().norm().clamp_min(1e-12)) for d, k in zip(diffs, x)) / len(x),
        ))
    return drifts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path, help="a model folder, e.g. build/demo-models/tiny-wan-i2v")
    parser.add_argument("b", type=Path, help="the folder to compare with, e.g. generation/weights/tiny-wan-i2v")
    args = parser.parse_args(argv)
    try:
        drifts = compare_folders(args.a, args.b)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for d in drifts:
        print(f"{d.path}: {d.identical}/{d.tensors} tensors identical, max |diff| {d.max_abs:.3g}, "
              f"mean relative diff {d.mean_rel:.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
