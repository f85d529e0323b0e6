"""What every review page shares: the page shell and its style, media URLs, the posted form,
not-found pages that link back, and the messages a page shows after a decision.

A page shows a message only when this server recorded it (`Said`): a post's answer is kept
under a random token and the redirect names the token, so no text in a URL is ever shown.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from html import escape
from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

MAX_FORM_BYTES = 64 * 1024
REVIEWER_COOKIE = "storyreel_reviewer"

STYLE = """
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,sans-serif;margin:0;background:#16181d;color:#e8e8ea}
header{padding:12px 24px;background:#20232b;border-bottom:1px solid #30343e}
header a,main a{color:#9ab8ff;text-decoration:none} main{padding:14px 24px}
h1{font-size:20px;margin:0} h2{font-size:16px;margin:18px 0 8px}
.muted{color:#9a9ca5} .said{padding:10px 14px;border-radius:6px;margin:0 0 12px;background:#1f3a2a;border:1px solid #2f6b46}
.said.bad{background:#3d1f23;border-color:#7a3440}
.fail{color:#ff7b86;font-weight:600} .pass{color:#7fd99a}
table.scores{border-collapse:collapse;font-size:13px;width:100%} .scores td{padding:2px 4px;border-top:1px solid #30343e}
.frames{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-end} .frames figure{margin:0}
.frames img{width:160px;image-rendering:pixelated;border:1px solid #30343e;border-radius:4px}
figcaption{font-size:12px;color:#9a9ca5;max-width:160px}
.strip{display:flex;gap:8px;overflow-x:auto;padding-bottom:4px}
.strip a{display:block;text-align:center;color:#e8e8ea;text-decoration:none;font-size:12px}
.strip img{width:96px;height:96px;object-fit:cover;image-rendering:pixelated;border:2px solid #30343e;border-radius:4px;display:block}
.strip a.here img{border-color:#6c8cff}
form{margin:0}
input,textarea,select{background:#111318;color:#e8e8ea;border:1px solid #3a3f4b;border-radius:4px;padding:5px;font:inherit;max-width:100%}
textarea{width:100%;height:56px}
button{background:#3355cc;color:#fff;border:0;border-radius:5px;padding:6px 14px;font:inherit;cursor:pointer}
button.reject{background:#a33a48} button.reroll{background:#5a5f70}
kbd{background:#30343e;border-radius:3px;padding:0 5px;font:12px ui-monospace,monospace}
"""


def media_href(relative: str | None) -> str | None:
    """The media server URL of a file stored under the home (a path relative to it)."""
    return "/" + quote(relative) if relative else None


def page(title: str, body: str, style: str = "") -> str:
    """A whole HTML page; ``<!--said-->`` in ``body`` is where a message goes."""
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
            f"<meta name=viewport content='width=device-width,initial-scale=1'><style>{STYLE}{style}</style></head>"
            f"<body>{body}</body></html>")


def not_found(message: str, project: str | None = None) -> HTMLResponse:
    """A 404 page that says what was not found and links back (the project, every project)."""
    back = [f'<a href="/review/{escape(quote(project, safe=""))}">{escape(project)}</a>'] if project else []
    back.append('<a href="/">every project</a>')
    body = f"<header><h1>Not found</h1></header><main><p>{escape(message)}</p><p>Back to {' · '.join(back)}</p></main>"
    return HTMLResponse(page("not found", body), status_code=404)


class Said:
    """Messages this server said after a post, kept by token (the newest ``size``)."""

    def __init__(self, size: int = 512) -> None:
        self._said: OrderedDict[str, tuple[str, bool]] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def keep(self, text: str, ok: bool) -> str:
        """Keep a message; the token a redirect names."""
        token = secrets.token_urlsafe(12)
        with self._lock:
            self._said[token] = (text[:2000], ok)
            while len(self._said) > self._size:
                self._said.popitem(last=False)
        return token

    def note(self, request: Request) -> str:
        """The message box for the token in ``request``'s ``said`` (empty for any other text)."""
        with self._lock:
            found = self._said.get(request.query_params.get("said", ""))
        if found is None:
            return ""
        text, ok = found
        return f'<div class="said{"" if ok else " bad"}" role="status">{escape(text)}</div>'


async def read_form(request: Request) -> dict[str, str] | Response:
    """A decision form posted from this server's pages (its fields), or the refusal to send:
    a post from another origin (403) or a form over `MAX_FORM_BYTES` (413)."""
    origin = request.headers.get("origin")
    if origin and origin != f"{request.url.scheme}://{request.headers.get('host', '')}":
        return HTMLResponse(page("refused", "<main><p>A decision must come from this review page.</p></main>"), status_code=403)
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return HTMLResponse(page("refused", "<main><p>The form is too large.</p></main>"), status_code=413)
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}


def reviewer_of(request: Request, default: str) -> str:
    """Who reviews in this browser (set on the page, kept in a cookie), else the server's."""
    return ((request.cookies.get(REVIEWER_COOKIE) or "").strip() or default)[:128]
