"""How a screenplay breaks down, over a folder of Fountain screenplays (the project commits none:
give it public ones).

    python benchmarks/breakdown.py FOLDER [--runs 3]

Per screenplay: scenes found against the script's own scene headings, characters found and how
many are described (not "name only"), the share of composed prompts that put "a"/"an" before
bare attributes (`shots.grammar.bare_attributes`: ``an age 3``, ``a 40's and handsome``), shots
whose prompt is a transition, a marker or a fragment (fewer than 4 words), the share of the
shots of characters with later looks that show a later look, and the time (median of
``--runs``, parse + plan in this process) and peak memory of `plan` against the file's size.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shots import load_storyboard, plan_storyboard  # noqa: E402
from shots.errors import StoryreelError  # noqa: E402
from shots.grammar import bare_attributes  # noqa: E402

_HEADING = re.compile(r"^(?:INT\.?/EXT|INT/EXT|I/E|INT|EXT|EST)[\s.]|^\.[A-Za-z]", re.IGNORECASE)
_MARKER = re.compile(r"^\W*(?:FADE|CUT TO|DISSOLVE|SMASH CUT|MATCH CUT|INTERCUT|TITLE OVER|SUPER:|MONTAGE|SERIES OF|BACK TO)", re.IGNORECASE)


def headings(text: str) -> int:
    """Scene headings as the script writes them: a line that opens INT/EXT/… (or a forced
    ``.HEADING``) after a blank line."""
    lines = text.replace("\r\n", "\n").split("\n")
    return sum(1 for i, line in enumerate(lines) if _HEADING.match(line.strip()) and (i == 0 or not lines[i - 1].strip()))


def measure(path: Path, runs: int) -> dict[str, object]:
    text = path.read_text(encoding="utf-8", errors="replace")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        board = load_storyboard(path)
        graph = plan_storyboard(board)
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    plan_storyboard(load_storyboard(path))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    prompts = [s.prompt.prompt for s in graph.shots]
    own = [shot.prompt for _, shot in board.shot_list()]
    looked = [c for c, ch in board.characters.items() if ch.looks]
    with_looks = [s for s in graph.shots if set(s.characters) & set(looked)]
    later = [s for s in with_looks if dict(s.looks).keys() & set(s.characters)]
    return {
        "file": path.name,
        "kb": len(text.encode()) / 1000,
        "headings": headings(text),
        "scenes": len(board.scenes),
        "shots": len(graph.shots),
        "characters": len(board.characters),
        "described": sum(1 for c in board.characters.values() if not (c.origin and c.origin.how == "name only")),
        "bare": sum(1 for p in prompts if bare_attributes(p)),
        "not_shots": sum(1 for p in own if _MARKER.match(p) or len(p.split()) < 4 and not p.startswith("A title card")),
        "looks": sum(len(board.characters[c].looks) for c in looked),
        "later_look_share": len(later) / len(with_looks) if with_looks else None,
        "seconds": statistics.median(times),
        "peak_mb": peak / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows, refused = [], []
    for path in sorted(args.folder.glob("*.fountain")):
        try:
            rows.append(measure(path, args.runs))
        except StoryreelError as exc:
            refused.append(f"{path.name}: refused: {str(exc).splitlines()[0][:160]}")
    print("| screenplay | KB | scenes / headings | shots | characters (described) | later looks | shots of those characters in a later look "
          "| prompts with a/an before bare attributes | shots that are markers or fragments | plan s | peak MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        share = "—" if r["later_look_share"] is None else f"{r['later_look_share']:.0%}"
        print(f"| {r['file']} | {r['kb']:.0f} | {r['scenes']} / {r['headings']} | {r['shots']} | {r['characters']} ({r['described']}) "
              f"| {r['looks']} | {share} | {r['bare']} of {r['shots']} | {r['not_shots']} | {r['seconds']:.2f} | {r['peak_mb']:.0f} |")
    for line in refused:
        print(line)


if __name__ == "__main__":
    main()
