"""`storyreel worker`: a long-lived Prefect task worker that keeps the model loaded."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.markup import escape

from flows.cli.app import HomeOpt, app, console, settings_for


@app.command("worker")
def worker_command(
    device: Annotated[str | None, typer.Option(help="Device for every shot this worker renders, e.g. cuda:0.")] = None,
    model: Annotated[str | None, typer.Option(help="Load this model now (tiny or a diffusers dir) so the first shot is warm.")] = None,
    limit: Annotated[int, typer.Option(help="Shots rendered at once by this worker.")] = 1,
    threads: Annotated[int | None, typer.Option(help="CPU threads for torch (several CPU workers on one machine: cores ÷ workers).")] = None,
    home: HomeOpt = None,
) -> None:
    """Serve render tasks to flows started with --workers (needs PREFECT_API_URL)."""
    from flows.runner import prefect_env
    from flows.settings import prefect_api_url
    from shots.errors import ConfigError

    if not prefect_api_url():
        raise ConfigError("a worker needs a Prefect server: set PREFECT_API_URL (see `storyreel server`)")
    if device:
        os.environ["STORYREEL_DEVICE"] = device
    if threads is not None:
        if threads < 1:
            raise ConfigError("--threads must be at least 1")
        import torch

        torch.set_num_threads(threads)
    prefect_env()
    settings = settings_for(home)
    os.environ["STORYREEL_WORKER_HOME"] = str(settings.home)  # this host's models and media cache
    from flows.render_flow import render_shot_task
    from flows.workers import remote_task, worker_id

    if model:
        from generation.loading import load_pipeline
        from generation.types import LoadOptions

        load_pipeline(settings.resolve_model(model), LoadOptions(device=device or "auto", dtype="auto"))
    from prefect.task_worker import serve

    console.print(f"storyreel worker {worker_id()} on {escape(device or 'auto')}: serving render tasks")
    serve(remote_task(render_shot_task, settings.results_url), limit=limit)
