"""``python -m flows.cli``: the same entry point as the ``storyreel`` script."""

from flows.cli import run

run()
