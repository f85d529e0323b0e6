"""`storyreel server`: the Prefect server (UI and API) plus the media server for review pages."""

from __future__ import annotations

import functools
import signal
import subprocess
import sys
from typing import Annotated

import typer
from rich.markup import escape

from flows.cli.app import HomeOpt, app, console, settings_for
from review.media import serve_in_thread
from shots.errors import ConfigError


def _url_host(host: str) -> str:
    """``host`` as it goes in a URL (a wildcard bind is reached on loopback)."""
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


@app.command("server")
def server_command(
    home: HomeOpt = None,
    host: Annotated[str, typer.Option(help="Address for both servers.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Prefect server port.")] = 4200,
    media_port: Annotated[int, typer.Option(help="Media server and review page port.")] = 8765,
    allow_host: Annotated[list[str] | None, typer.Option("--allow-host", help="Another Host name the media server answers to (a proxy's, say); repeatable. Also STORYREEL_ALLOW_HOSTS (comma-separated).")] = None,
    reviewer: Annotated[str | None, typer.Option("--reviewer", help="Who decides on the review pages when a browser names nobody (default $STORYREEL_REVIEWER, else your login name).")] = None,
) -> None:
    """Run the Prefect server (UI + API) and, on the media port, the review pages and a
    read-only media server for <home>, until Ctrl-C."""
    from flows.review_flow import decide
    from flows.settings import allowed_hosts_env, reviewer_name
    from review.html import Said
    from review.page import review_routes
    from review.stills_page import stills_routes

    settings = settings_for(home)
    api = f"http://{_url_host(host)}:{port}/api"
    extra = [*(allow_host or []), *allowed_hosts_env()]
    try:
        who, said = (reviewer or "").strip() or reviewer_name(), Said()
        routes = [*review_routes(settings, functools.partial(decide, api_url=api), who, said), *stills_routes(settings, who, said)]
        media = serve_in_thread(settings.home, host, media_port, extra, routes)
    except OSError as exc:
        raise ConfigError(f"the media server cannot listen on {host}:{media_port}: {exc.strerror or exc}; choose another --media-port") from None
    prefect = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)])
    media_url = f"http://{_url_host(host)}:{media_port}"
    console.print(f"Prefect UI    http://{_url_host(host)}:{port}")
    console.print(f"Review pages  {media_url}/review/<project>  (and media under {escape(str(settings.home))})")
    console.print(f"In another shell:\n  export PREFECT_API_URL={api}\n  export STORYREEL_MEDIA_URL={media_url}")

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
