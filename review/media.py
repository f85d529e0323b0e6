"""The media server: a home folder's media, and the review pages, over HTTP.

Prefect's UI strips ``data:`` and ``file:`` image URLs; contact sheets, takes and the review
pages (`review.page`) are served over HTTP instead, by a small Starlette app on uvicorn,
in a thread of `storyreel server`. Only media files (by extension) under the home folder are
served: no directory listings, no ``..``, no absolute paths, no links that lead outside.
Requests for a byte range (a browser seeking in a video) get 206 with those bytes. A request
whose path holds a NUL byte, a name over 255 bytes, over 1024 bytes in all, or a malformed
escape gets 400; one whose ``Host`` is not an address this server answers to gets 400 (a page
on another site that rebinds its DNS name to this address cannot read media).
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

MEDIA_TYPES = {".mp4": "video/mp4", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp", ".otio": "application/json"}
MAX_PATH_BYTES = 1024
MAX_NAME_BYTES = 255
_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


def path_problem(raw: bytes) -> str | None:
    """Why a request's raw path is malformed (None when it is not)."""
    if len(raw) > MAX_PATH_BYTES:
        return f"the path is over {MAX_PATH_BYTES} bytes"
    if _BAD_ESCAPE.search(raw):
        return "the path has a malformed %-escape"
    decoded = unquote_to_bytes(raw)
    if b"\x00" in decoded:
        return "the path holds a NUL byte"
    try:
        decoded.decode("utf-8")
    except UnicodeDecodeError:
        return "the path is not UTF-8"
    if any(len(part) > MAX_NAME_BYTES for part in decoded.split(b"/")):
        return f"a name in the path is over {MAX_NAME_BYTES} bytes"
    return None


def host_name(header: str) -> str:
    """The name in a ``Host`` header, without its port (``[::1]:8765`` → ``::1``)."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class Guard:
    """400 for a foreign ``Host`` or a malformed path, before any route sees the request."""

    def __init__(self, app: ASGIApp, hosts: Iterable[str]) -> None:
        self.app = app
        self.hosts = {h.lower() for h in hosts}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
            raw = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
            problem = path_problem(raw.split(b"?", 1)[0])
            if host_name(host) not in self.hosts:
                problem = f"this server does not answer to the host {host[:100]!r} (storyreel server --allow-host adds one)"
            if problem is not None:
                await PlainTextResponse(f"Bad request: {problem}.\n", status_code=400)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def resolve_media(home: Path, url_path: str) -> Path | None:
    """The file a URL path names under ``home``, or None when it must not be served."""
    path = urlsplit(url_path).path
    if "%" in path:
        try:
            path = unquote_to_bytes(path).decode("utf-8")
        except UnicodeDecodeError:
            return None
    parts = [p for p in path.split("/") if p]
    if not parts or any(p in ("..", ".") or p.startswith(".") or "\\" in p or "\x00" in p for p in parts):
        return None
    root = home.resolve()
    try:
        target = root.joinpath(*parts).resolve()
        if not target.is_relative_to(root) or not target.is_file() or target.suffix.lower() not in MEDIA_TYPES:
            return None
    except (OSError, ValueError):
        return None
    return target


def allowed_hosts(host: str, extra: Iterable[str] = ()) -> list[str]:
    """The ``Host`` names this server answers to: the address it is bound to, loopback names,
    this machine's name (for a wildcard bind), and ``extra`` (``--allow-host``)."""
    names = {host.strip("[]").lower(), "localhost", "127.0.0.1", "::1"}
    if host in ("0.0.0.0", "::", ""):
        names |= {socket.gethostname(), socket.getfqdn()}
        with contextlib.suppress(OSError):
            names |= {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None)}
    names |= {h.strip() for h in extra if h.strip()}
    return sorted(n for n in names if n)


def create_app(home: Path, hosts: Iterable[str], routes: Iterable[BaseRoute] = ()) -> Any:
    """The ASGI app: ``routes`` first (the review pages), then media under ``home``."""
    root = Path(home)

    async def media(request: Request) -> Response:
        target = resolve_media(root, request.scope.get("raw_path", b"").decode("latin-1") or request.url.path)
        if target is None:
            return HTMLResponse("<!doctype html><title>not found</title><p>Not found: not a media file under the storyreel home.</p>"
                                '<p><a href="/">Every project</a></p>', status_code=404)
        return FileResponse(target, media_type=MEDIA_TYPES[target.suffix.lower()], headers={"Cache-Control": "no-cache"})

    app = Starlette(routes=[*routes, Route("/{path:path}", media, methods=["GET", "HEAD"])])
    return Guard(app, hosts)


class MediaServer:
    """uvicorn serving an app on a socket bound before it starts (so a taken port fails at
    once, and port 0 gets a free one), on a daemon thread."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        import uvicorn

        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((host.strip("[]"), port))
        self.server_address = self.socket.getsockname()[:2]
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False, timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, name="storyreel-media", daemon=True)

    def start(self, wait: float = 10.0) -> MediaServer:
        self.thread.start()
        deadline = time.monotonic() + wait
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def shutdown(self) -> None:
        self.server.should_exit = True
        self.thread.join(5)
        self.socket.close()


def serve_in_thread(home: Path, host: str = "127.0.0.1", port: int = 8765, extra_hosts: Iterable[str] = (),
                    routes: Iterable[BaseRoute] = ()) -> MediaServer:
    """Start the media server (and ``routes``) on a daemon thread; ``shutdown()`` stops it."""
    return MediaServer(create_app(Path(home), allowed_hosts(host, extra_hosts), routes), host, port).start()
