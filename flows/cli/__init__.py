"""The `storyreel` command line. Heavy imports (torch, Prefect) happen inside commands.

One module per group of commands; each registers on `app` when imported (in the order
`--help` lists them).
"""

from __future__ import annotations

import errno
import sys

from rich.markup import escape

from flows.cli import plan, render, review, server, store, worker, models  # noqa: F401  (registers commands)
from flows.cli.app import app, console, err_console
from shots.errors import StoryreelError

__all__ = ["app", "console", "err_console", "main"]


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
        message = runtime_fault(exc)
        if message is None:
            raise
        err_console.print(f"[bold red]Error:[/] {escape(message)}")
        sys.exit(1)


FAULT_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.EIO}


def runtime_fault(exc: BaseException) -> str | None:
    """One line for a fault of the machine (database, disk), or None for anything else."""
    import sqlalchemy.exc

    if isinstance(exc, sqlalchemy.exc.SQLAlchemyError):
        from storage.db import first_line

        return f"the database failed: {first_line(exc)}"
    if isinstance(exc, OSError) and exc.errno in FAULT_ERRNOS:
        where = f" {exc.filename}" if exc.filename else ""
        return f"cannot write{where}: {exc.strerror}"
    return None

