"""The Typer app, consoles and options shared by every `storyreel` command module."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from flows.settings import AppSettings, load_settings

app = typer.Typer(
    name="storyreel",
    help="Multi-shot storyboard → AI video: plan, render, score, review and cut.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)

FileArg = Annotated[Path, typer.Argument(help="Storyboard: .yaml, .fountain or .csv")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
HomeOpt = Annotated[
    Path | None, typer.Option("--home", help="Projects and media (default $STORYREEL_HOME or ./projects).")
]
ProjectOpt = Annotated[str | None, typer.Option("--project", help="Project name (default: the storyboard's folder).")]


def settings_for(home: Path | None) -> AppSettings:
    """Settings for a command's --home."""
    return load_settings(home)


ProjectArg = Annotated[str, typer.Argument(help="Project name.")]
