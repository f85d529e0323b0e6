"""Terminal progress for renders in this process (Rich), fed by the render tasks.

The CLI installs a sink before it runs a flow; tasks report denoising steps and finished
shots to it. Without a sink (workers, tests) reporting does nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

_LOCK = threading.Lock()
_SINK: ProgressSink | None = None


class ProgressSink:
    """An overall bar (shots) and one bar per shot (denoising steps)."""

    def __init__(self, total_shots: int, progress: Progress | None = None) -> None:
        self.progress = progress or Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=False
        )
        self.overall = self.progress.add_task("shots", total=total_shots)
        self._shots: dict[str, TaskID] = {}

    def step(self, shot: str, step: int, steps: int) -> None:
        """A denoising step of ``shot`` finished."""
        with _LOCK:
            if shot not in self._shots:
                self._shots[shot] = self.progress.add_task(f"  {shot}", total=steps)
            self.progress.update(self._shots[shot], completed=step, total=steps)

    def shot_done(self, shot: str, note: str = "") -> None:
        """A shot is finished (rendered or skipped)."""
        with _LOCK:
            self.progress.advance(self.overall)
            if shot in self._shots and note:
                self.progress.update(self._shots[shot], description=f"  {shot} {note}")


def install(sink: ProgressSink | None) -> None:
    """Use ``sink`` for renders in this process (None removes it)."""
    global _SINK
    _SINK = sink


def step_callback(shot: str) -> Callable[[int, int], None] | None:
    """A per-step callback for ``shot``, or None without a sink."""
    sink = _SINK
    return None if sink is None else (lambda step, steps: sink.step(shot, step, steps))


def notice(text: str) -> None:
    """A line for the person at the terminal (above the bars), e.g. that a review waits."""
    if _SINK is None:
        return
    if _SINK.progress.live.is_started:
        _SINK.progress.console.print(text, markup=False, highlight=False, soft_wrap=True)  # links stay whole
    else:  # no bars (--json): stdout is for the summary
        from rich.console import Console

        Console(stderr=True).print(text, markup=False, highlight=False, soft_wrap=True)


def shot_done(shot: str, note: str = "") -> None:
    """Report a finished shot to the sink, if any."""
    if _SINK is not None:
        _SINK.shot_done(shot, note)
