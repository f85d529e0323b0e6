"""`storyreel models`: build and inspect models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from flows.cli.app import app, console
from shots.errors import ConfigError

models_app = typer.Typer(help="Build and inspect models.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("make-tiny")
def make_tiny_model(
    directory: Annotated[Path, typer.Argument(help="Where to save the pipeline.")],
    family: Annotated[str, typer.Option(help="wan, wan_flf2v, wan22, wan22_ti2v, wan_vace, ltx, ltx_condition, cogvideox, pixart (text-to-image) or prompt_lm (a chat LM for settings.prompt_model).")] = "wan",
    random: Annotated[bool, typer.Option("--random", help="Random weights (paint noise; for tests).")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace a model storyreel saved there before (never another folder).")] = False,
) -> None:
    """Save a tiny pipeline: the trained demo model (wan), or random weights with --random.

    Saved as ``<home>/models/tiny-wan-i2v`` it replaces the embedded model for ``model: tiny``.
    DIRECTORY must be new or empty; a model storyreel saved there before is replaced with
    --force, and any other folder is refused untouched.
    """
    from generation.builders import BUILDERS
    from generation.tiny import copy_trained, make_tiny, trained_model

    if family not in BUILDERS:
        raise ConfigError(f"family {family!r} is not allowed; use {', '.join(BUILDERS)}")
    trained = trained_model() if family == "wan" else None
    if not random and trained is None:
        what = "this installation has no trained demo model" if family == "wan" else f"only wan is trained, not {family}"
        raise ConfigError(f"{what}; add --random for random weights (or run make train-demo-models)")
    path = make_tiny(directory, family, force) if random else copy_trained(directory, force)
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    kind = "random" if random else "trained"
    console.print(f"Saved tiny {kind} {family} pipeline to {escape(str(path))} ({size / 1024:.0f} KiB)")
