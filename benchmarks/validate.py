"""`storyreel validate` time against storyboard size, for each format (1 KB … 1 MB).

    python benchmarks/validate.py [--runs 5]

Each storyboard is a legal one of that size (shots with a character, a camera and a
duration), then error-dense ones (every shot wrong two or three times). Two times, medians of
``--runs``: the whole command as a user runs it (a new `storyreel validate` process, imports
included, wall clock) and parse + validate + plan inside this process; the growth from one size
to the next says whether validation is linear in the file.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shots import load_storyboard, plan_storyboard  # noqa: E402

SIZES = (1_000, 10_000, 100_000, 1_000_000)
ACTION = "a red circle moves right on a black background"


def _fill(head: str, item: object, size: int) -> str:
    """``head`` followed by ``item(i)`` for i = 0, 1, … while the text stays within ``size``."""
    parts, length, i = [head], len(head), 0
    while length + len(text := item(i)) <= size or i == 0:  # type: ignore[operator]
        parts.append(text)
        length += len(text)
        i += 1
    return "".join(parts)


def yaml_board(size: int) -> str:
    head = "title: t\ncharacters:\n  red: {description: a red circle}\nshots:\n"
    return _fill(head, lambda i: f"  - {{id: s{i:05d}, prompt: {ACTION} number {i}, characters: [red], camera: static wide, duration: 2}}\n", size)


def fountain_board(size: int) -> str:
    scene = "INT. STUDIO {0} - NIGHT\n\nMAYA, a keeper in a red scarf, climbs the stairs {0}.\n\nMAYA\nAlmost there.\n\nCUT TO:\n\n"
    return _fill("Title: Bench\n\n", scene.format, size)


def csv_board(size: int) -> str:
    head = "scene,shot,description,camera,duration,characters\n"
    return _fill(head, lambda i: f"main,s{i:05d},{ACTION} number {i},static wide,2,red\n", size)


def dense_yaml(size: int) -> str:
    head = "title: t\nshots:\n"
    return _fill(head, lambda i: f"  - {{id: s{i:05d}, prompt: {ACTION}, duration: -1, reference: missing{i}.png, colour: red}}\n", size)


def dense_csv(size: int) -> str:
    head = "scene,shot,description,duration,reference\n"
    return _fill(head, lambda i: f"main,s{i:05d},{ACTION},-1,missing{i}.png\n", size)


FORMATS = {"yaml": (".yaml", yaml_board), "fountain": (".fountain", fountain_board), "csv": (".csv", csv_board)}
DENSE = {"yaml, 3 errors a shot": (".yaml", dense_yaml), "csv, 2 errors a row": (".csv", dense_csv)}
ROOT = Path(__file__).resolve().parent.parent


def command(path: Path, runs: int) -> tuple[float, int]:
    """Median wall time of `storyreel validate PATH` as a new process, and its exit code."""
    times, code = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        code = subprocess.run([sys.executable, "-m", "flows.cli", "validate", str(path)], cwd=ROOT, capture_output=True).returncode
        times.append(time.perf_counter() - start)
    return statistics.median(times), code


def measure(path: Path, runs: int) -> tuple[float, int]:
    """Median time of parse + validate + plan in this process, and the number of shots."""
    from shots.errors import StoryreelError

    times = []
    shots = 0
    for _ in range(runs):
        start = time.perf_counter()
        try:
            shots = len(plan_storyboard(load_storyboard(path)).shots)
        except StoryreelError:
            shots = 0
        times.append(time.perf_counter() - start)
    return statistics.median(times), shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"| format | size | shots | exit | `storyreel validate`, whole process, s | in-process s | in-process s per MB |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (suffix, make) in {**FORMATS, **DENSE}.items():
            for size in SIZES if name in FORMATS else SIZES[-1:]:
                path = Path(tmp) / f"board{suffix}"
                path.write_text(make(size))
                seconds, shots = measure(path, args.runs)
                whole, code = command(path, args.runs)
                actual = path.stat().st_size
                print(f"| {name} | {actual / 1000:.0f} KB | {shots or '—'} | {code} | {whole:.2f} | {seconds:.4f} | {seconds / (actual / 1e6):.2f} |")


if __name__ == "__main__":
    main()
