"""The `storyreel` command line. Heavy imports (torch, Prefect) happen inside commands.

One module per group of commands; each registers on `app` when imported (in the order
`--help` lists them).
"""

from __future__ import annotations

import atexit
import os
import sys
import threading

from rich.markup import escape

from flows.cli import plan, breakdown, stills, render, review, anchor, server, store, worker, models  # noqa: F401  (registers commands)
from flows.cli.app import app, console, err_console
from shots.errors import StoryreelError

__all__ = ["app", "console", "err_console", "main", "run"]


def main() -> None:
    """Console-script entry point: storyreel errors become one red line and an exit code.

    So do runtime faults of the machine rather than of storyreel — a database that cannot be
    read or written (corrupt, read-only, full, unreachable) and a full or read-only disk — with
    exit 1. Anything else is a bug and keeps its traceback.
    """
    try:
        app()
    except StoryreelError as exc:
        err_console.print(f"[bold red]Error:[/] {escape(str(exc))}")
        sys.exit(exc.exit_code)
    except Exception as exc:
        from production.faults import runtime_fault

        message = runtime_fault(exc)
        if message is None:
            raise
        err_console.print(f"[bold red]Error:[/] {escape(message)}")
        sys.exit(1)


def run() -> None:
    """The ``storyreel`` process: `main`, then an exit as the interpreter's own — every other
    thread joined, every exit handler run, output flushed — without its teardown of the loaded
    libraries (torch, diffusers, Prefect), which took a render's process about 2 s more."""
    try:
        main()
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    if not isinstance(code, int) and code is not None:
        print(code, file=sys.stderr)
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else (0 if code is None else 1))
