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
    family: Annotated[str, typer.Option(help="wan, wan22, wan22_ti2v, ltx, cogvideox or pixart (text-to-image).")] = "wan",
    random: Annotated[bool, typer.Option("--random", help="Random weights (paint noise; for tests).")] = False,
) -> None:
    """Save a tiny pipeline: the trained demo model (wan), or random weights with --random.

    Saved as ``<home>/models/tiny-wan-i2v`` it replaces the embedded model for ``model: tiny``.
    """
    from generation.tiny import BUILDERS, make_tiny, trained_model

    if family not in BUILDERS:
        raise ConfigError(f"family {family!r} is not allowed; use {', '.join(BUILDERS)}")
    trained = trained_model() if family == "wan" else None
    if not random and trained is None:
        what = "this installation has no trained demo model" if family == "wan" else f"only wan is trained, not {family}"
        raise ConfigError(f"{what}; add --random for random weights (or run make train-demo-models)")
    if random:
        path = make_tiny(directory, family)
    else:
        import shutil

        if directory.exists():
            shutil.rmtree(directory)
        path = Path(shutil.copytree(trained, directory))
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    kind = "random" if random else "trained"
    console.print(f"Saved tiny {kind} {family} pipeline to {escape(str(path))} ({size / 1024:.0f} KiB)")
