"""A small read-only HTTP server for a home folder's media, so review pages can show pictures.

Prefect's UI strips ``data:`` and ``file:`` image URLs; contact sheets and takes are served
over HTTP instead. Only media files (by extension) under the home folder are served: no
directory listings, no ``..``, no absolute paths, no links that lead outside.
"""

from __future__ import annotations

import mimetypes
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

MEDIA_TYPES = {".mp4": "video/mp4", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp", ".otio": "application/json"}


def resolve_media(home: Path, url_path: str) -> Path | None:
    """The file a URL path names under ``home``, or None when it must not be served."""
    path = unquote(urlsplit(url_path).path)
    parts = [p for p in path.split("/") if p]
    if not parts or any(p in ("..", ".") or p.startswith(".") or "\\" in p for p in parts):
        return None
    root = home.resolve()
    target = root.joinpath(*parts).resolve()
    if not target.is_relative_to(root) or not target.is_file() or target.suffix.lower() not in MEDIA_TYPES:
        return None
    return target


def make_server(home: Path, host: str = "127.0.0.1", port: int = 8765) -> ThreadingHTTPServer:
    """A server for ``home`` (not yet serving; call ``serve_forever``)."""
    root = Path(home)

    class Handler(BaseHTTPRequestHandler):
        server_version = "storyreel-media"

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self._send(body=True)

        def do_HEAD(self) -> None:  # noqa: N802
            self._send(body=False)

        def _send(self, body: bool) -> None:
            target = resolve_media(root, self.path)
            if target is None:
                self.send_error(HTTPStatus.NOT_FOUND, "not a media file under the storyreel home")
                return
            data = target.read_bytes()
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", MEDIA_TYPES.get(target.suffix.lower()) or mimetypes.guess_type(target.name)[0] or "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            if body:
                self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # quiet by default
            return

    return ThreadingHTTPServer((host, port), Handler)


def serve_in_thread(home: Path, host: str = "127.0.0.1", port: int = 8765) -> ThreadingHTTPServer:
    """Start the media server on a daemon thread; ``shutdown()`` stops it."""
    server = make_server(home, host, port)
    threading.Thread(target=server.serve_forever, name="storyreel-media", daemon=True).start()
    return server
