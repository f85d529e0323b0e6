"""Which errors are handled: storyreel's own, and faults of the machine (database, disk).

Handled errors reach the terminal as one line, never a traceback — from the CLI and from
Prefect's own logging of a failed task or flow run alike (`hide_handled_tracebacks`).
Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
import logging

from shots.errors import StoryreelError

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


def handled(exc: BaseException) -> bool:
    """Whether an error is one storyreel reports in a line (its own, or a machine fault)."""
    return isinstance(exc, StoryreelError) or runtime_fault(exc) is not None


class _NoHandledTracebacks(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None and handled(record.exc_info[1]):
            record.exc_info, record.exc_text = None, None
        return True


_FILTER = _NoHandledTracebacks()


def hide_handled_tracebacks() -> None:
    """Drop the traceback (keep the line) from terminal log records of handled errors:
    Prefect logs a failed task or flow run with its traceback on the console handler."""
    handlers = list(logging.getLogger().handlers)
    for name in list(logging.Logger.manager.loggerDict):
        if name.startswith("prefect"):
            handlers += logging.getLogger(name).handlers
    for handler in handlers:
        if _FILTER not in handler.filters and type(handler).__name__ != "APILogHandler":
            handler.addFilter(_FILTER)
