"""`storyreel server`: the Prefect server (UI and API) plus the media server for review pages."""

from __future__ import annotations

import signal
import subprocess
import sys
from typing import Annotated

import typer
from rich.markup import escape

from flows.cli.app import HomeOpt, app, console, settings_for
from flows.media import serve_in_thread


@app.command("server")
def server_command(
    home: HomeOpt = None,
    host: Annotated[str, typer.Option(help="Address for both servers.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Prefect server port.")] = 4200,
    media_port: Annotated[int, typer.Option(help="Media server port.")] = 8765,
) -> None:
    """Run the Prefect server (UI + API) and a read-only media server for <home> until Ctrl-C."""
    settings = settings_for(home)
    media = serve_in_thread(settings.home, host, media_port)
    prefect = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)])
    api = f"http://{host}:{port}/api"
    console.print(f"Prefect UI    http://{host}:{port}")
    console.print(f"Media server  http://{host}:{media_port}  (serves media under {escape(str(settings.home))})")
    console.print(f"In another shell:\n  export PREFECT_API_URL={api}\n  export STORYREEL_MEDIA_URL=http://{host}:{media_port}")

    def stop(*_: object) -> None:
        prefect.terminate()

    signal.signal(signal.SIGTERM, stop)
    try:
        code = prefect.wait()
    except KeyboardInterrupt:
        prefect.terminate()
        code = prefect.wait(30)
    finally:
        media.shutdown()
    if code not in (0, -signal.SIGTERM, 130):
        raise typer.Exit(1)
