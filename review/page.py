"""The review page, on the media server: ``/review/<project>`` lists every shot, and
``/review/<project>/<shot>`` plays every take of a shot side by side.

Server-rendered HTML, no scripts beyond the browser's own video players. Each take shows its
prompt, seed and scores (failed ones marked) with an approve button; the shot's first frame sits
beside the previous shot's hand-off frame it started from; the chain's shots run as a strip.
Approve / reject / reroll resume the flow run waiting for this shot with the input its Prefect
form takes (the ``decide`` function the server is given: `flows.review_flow.decide`); when no run waits, the decision is recorded and a
re-roll queued, as `storyreel approve` / `rerender` do. Every path ends in one `Review` row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from html import escape
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from review.decisions import KEY_METRICS, chosen_take, own_text, reviewable_takes, shot_info
from production.config import AppSettings
from shots.errors import NotFound, StoryreelError
from storage.artifacts import TakeFiles

MAX_FORM_BYTES = 64 * 1024
REVIEWER_COOKIE = "storyreel_reviewer"

STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:0;background:#16181d;color:#e8e8ea}
header{padding:14px 24px;background:#20232b;border-bottom:1px solid #30343e}
header a{color:#9ab8ff;text-decoration:none} main{padding:16px 24px}
h1{font-size:20px;margin:0} h2{font-size:16px;margin:22px 0 8px}
.muted{color:#9a9ca5} .said{padding:10px 14px;border-radius:6px;margin:12px 0;background:#1f3a2a;border:1px solid #2f6b46}
.said.bad{background:#3d1f23;border-color:#7a3440}
.takes{display:flex;flex-wrap:wrap;gap:16px}
.take{background:#20232b;border:1px solid #30343e;border-radius:8px;padding:10px;width:320px}
.take.chosen{border-color:#6c8cff} .take video{width:100%;image-rendering:pixelated;background:#000;border-radius:4px}
.take p{margin:6px 0;font-size:13px}
table.scores{border-collapse:collapse;font-size:13px;width:100%} .scores td{padding:2px 4px;border-top:1px solid #30343e}
.fail{color:#ff7b86;font-weight:600} .pass{color:#7fd99a}
.frames{display:flex;gap:16px;align-items:flex-end} .frames figure{margin:0}
.frames img{width:192px;image-rendering:pixelated;border:1px solid #30343e;border-radius:4px}
figcaption{font-size:12px;color:#9a9ca5}
.strip{display:flex;gap:8px;overflow-x:auto;padding-bottom:4px}
.strip a{display:block;text-align:center;color:#e8e8ea;text-decoration:none;font-size:12px}
.strip img{width:96px;height:96px;object-fit:cover;image-rendering:pixelated;border:2px solid #30343e;border-radius:4px;display:block}
.strip a.here img{border-color:#6c8cff}
form{margin:0} .decide{display:flex;flex-wrap:wrap;gap:16px;margin-top:8px}
.decide form{background:#20232b;border:1px solid #30343e;border-radius:8px;padding:10px 12px}
input,textarea,select{background:#111318;color:#e8e8ea;border:1px solid #3a3f4b;border-radius:4px;padding:5px;font:inherit}
textarea{width:420px;height:64px}
button{background:#3355cc;color:#fff;border:0;border-radius:5px;padding:6px 14px;font:inherit;cursor:pointer}
button.reject{background:#a33a48} button.reroll{background:#5a5f70}
table.shots{border-collapse:collapse} .shots td,.shots th{padding:6px 10px;border-bottom:1px solid #30343e;text-align:left}
.shots img{width:64px;image-rendering:pixelated}
"""


def media_href(relative: str | None) -> str | None:
    """The media server URL of a file stored under the home (a path relative to it)."""
    return "/" + quote(relative) if relative else None


def _page(title: str, body: str) -> str:
    """A whole HTML page; ``<!--said-->`` in ``body`` is where a message goes."""
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
            f"<meta name=viewport content='width=device-width,initial-scale=1'><style>{STYLE}</style></head>"
            f"<body>{body}</body></html>")


def _thumb(row: dict[str, Any]) -> str:
    """A shot's first frame (of its chosen take) as an image, or an empty box."""
    src = media_href(TakeFiles.of_video(row["video"]).first_frame) if row.get("video") else None
    return f'<img src="{escape(src)}" alt="">' if src else '<img alt="">'


def _scores(take: dict[str, Any]) -> str:
    scores = take["scores"]
    ordered = [m for m in KEY_METRICS if m in scores] + sorted(m for m in scores if m not in KEY_METRICS)
    rows = []
    for metric in ordered:
        value, threshold, passed = scores[metric]
        mark = "" if passed is None else ('<span class="pass">✓</span>' if passed else '<span class="fail">✗ failed</span>')
        limit = "" if threshold is None else f' <span class="muted">/ {threshold:g}</span>'
        rows.append(f"<tr{' class=fail' if passed is False else ''}><td>{escape(metric)}</td><td>{value:.3f}{limit}</td><td>{mark}</td></tr>")
    return f'<table class="scores">{"".join(rows)}</table>' if rows else '<p class="muted">no scores</p>'


def _reviewer_input(reviewer: str) -> str:
    return f'<input type="hidden" name="reviewer" value="{escape(reviewer)}">'


def _take_card(info: dict[str, Any], take: dict[str, Any], allowed: list[int], reviewer: str) -> str:
    chosen = take["take"] == info["chosen"]
    video = media_href(take["video"])
    player = (f'<video src="{escape(video)}" controls loop muted autoplay playsinline preload="auto" '
              f'data-take="{take["take"]}"></video>') if video else f'<p class="muted">no video ({escape(take["status"])})</p>'
    verdict = {True: '<span class="pass">passed</span>', False: '<span class="fail">failed checks</span>'}.get(take["passed"], escape(take["status"]))
    badge = " · chosen" if chosen else ""
    stale = "" if take["current"] else ' · <span class="muted">older inputs</span>'
    button = ""
    if take["take"] in allowed:
        anchor = ""
        if info["characters"]:  # as the Prefect form's anchor field, and `storyreel anchor`
            options = "".join(f'<option value="{escape(c)}">and make it {escape(c)}\'s anchor</option>' for c in info["characters"])
            anchor = f'<p><select name="anchor"><option value="">anchors as they are</option>{options}</select></p>'
        button = (f'<form method="post"><input type="hidden" name="decision" value="approve">'
                  f'<input type="hidden" name="take" value="{take["take"]}">{_reviewer_input(reviewer)}{anchor}'
                  f'<button type="submit" data-approve="{take["take"]}">Approve take {take["take"]}</button></form>')
    error = f'<p class="fail">{escape(take["error"])}</p>' if take.get("error") else ""
    return (f'<div class="take{" chosen" if chosen else ""}" id="take-{take["take"]}"><strong>Take {take["take"]}</strong>'
            f'{badge}{stale} — {verdict}{player}<p><span class="muted">seed</span> {take["seed"]}</p>'
            f'<p><span class="muted">prompt</span> {escape(take["prompt"] or "")}</p>{_scores(take)}{error}{button}</div>')


def _frames(info: dict[str, Any], root: AppSettings) -> str:
    """The previous shot's hand-off frame (what the chosen take started from) beside this
    shot's first frame."""
    take = chosen_take(info) or (info["takes"][-1] if info["takes"] else None)
    if take is None:
        return ""
    store = root.artifacts()
    figures = []
    for key, caption in (("start_frame", f"hand-off from {info['conditioned_on']}" if info["conditioned_on"] else "start frame"),
                         ("first_frame", f"{info['shot']} take {take['take']}: first frame")):
        relative = take.get(key)
        if relative and store.path(relative).is_file():
            figures.append(f'<figure><img src="{escape(media_href(relative) or "")}" alt="{escape(caption)}"><figcaption>{escape(caption)}</figcaption></figure>')
    if not figures:
        return ""
    return f'<h2>Across the cut</h2><div class="frames">{"".join(figures)}</div>'


def _chain(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """The shots of ``key``'s chain, in story order (a chain runs from a hard cut through the
    shots that continue from each other)."""
    by_key = {r["id"]: r for r in rows}
    start = key
    while (before := by_key.get(start, {}).get("conditioned_on")) in by_key:
        start = before
    chain = [start]
    while nxt := next((r["id"] for r in rows if r.get("conditioned_on") == chain[-1]), None):
        chain.append(nxt)
    return [by_key[k] for k in chain]


def _strip(project: str, rows: list[dict[str, Any]], here: str | None) -> str:
    cells = []
    for row in rows:
        image = _thumb(row)
        href = f"/review/{quote(project, safe='')}/{quote(row['id'], safe='')}"
        cells.append(f'<a href="{escape(href)}"{" class=here" if row["id"] == here else ""}>{image}{escape(row["id"])}<br>'
                     f'<span class="muted">{escape(row["status"])}</span></a>')
    return f'<div class="strip">{"".join(cells)}</div>'


def _decision(review: dict[str, Any] | None) -> str:
    if not review:
        return "no decision yet"
    who = f" by {review['reviewer']}" if review.get("reviewer") else ""
    notes = f" — “{review['notes']}”" if review.get("notes") else ""
    return f"{review['decision']}{who} at {review['at'][:19].replace('T', ' ')}{notes}"


def render_shot_page(settings: AppSettings, project: str, key: str, reviewer: str) -> str:
    """The HTML of one shot's review page."""
    info = shot_info(settings, project, key)
    rows = shot_rows(settings, project)
    allowed = reviewable_takes(info)
    current = [t for t in info["takes"] if t["current"]] or info["takes"]
    cards = "".join(_take_card(info, t, allowed, reviewer) for t in reversed(current)) or '<p class="muted">no takes yet</p>'
    older = len(info["takes"]) - len(current)
    last = _decision(info["last_decision"])
    own = escape(own_text(info))
    forms = (
        f'<form method="post"><input type="hidden" name="decision" value="reject">{_reviewer_input(reviewer)}'
        f'<p><label>Notes<br><textarea name="notes"></textarea></label></p><button class="reject" type="submit">Reject the shot</button></form>'
        f'<form method="post"><input type="hidden" name="decision" value="reroll">{_reviewer_input(reviewer)}'
        f'<p><label>The shot\'s own text (style and characters are composed around it)<br><textarea name="prompt">{own}</textarea></label></p>'
        f'<p><label>Seed <input name="seed" size="12" placeholder="next"></label> <label>Notes <input name="notes" size="24"></label></p>'
        f'<button class="reroll" type="submit">Reroll a new take</button></form>'
    )
    who = (f'<form method="post" action="?reviewer=1"><p><label>Reviewing as<br><input name="reviewer" value="{escape(reviewer)}" size="16"></label></p>'
           f'<button class="reroll" type="submit">Change</button></form>')
    home = f"/review/{quote(project, safe='')}"
    body = (
        f'<header><a href="{escape(home)}">{escape(project)}</a> › <h1 style="display:inline">Shot {escape(key)}</h1> '
        f'<span class="muted">scene {escape(info["scene"])} · {escape(info["status"])} · last decision: {escape(last)}</span></header>'
        f'<main><!--said--><h2>Chain</h2>{_strip(project, _chain(rows, key), key)}'
        f'<h2>Takes of the current inputs ({len(current)}){f" · {older} older not shown" if older else ""}</h2>'
        f'<div class="takes">{cards}</div>{_frames(info, settings)}'
        f'<h2>Decide</h2><div class="decide">{forms}{who}</div></main>'
    )
    return _page(f"{project} {key} — storyreel review", body)


def shot_rows(settings: AppSettings, project: str) -> list[dict[str, Any]]:
    """Every live shot, in story order, as the pages list them (no media hashing: a page load
    stays quick however long the film)."""
    from production.store import decision_info, failing_scores, last_decisions, transaction
    from storage.repo import get_project, live_shots

    with transaction(settings.database()) as session:
        shots = live_shots(session, get_project(session, project))
        decisions = last_decisions(session, [s.id for s in shots])
        return [
            {"id": s.key, "scene": s.scene, "status": s.status, "conditioned_on": s.conditioned_on,
             "chosen_take": s.chosen_take.attempt if s.chosen_take else None, "takes": len(s.takes),
             "video": s.chosen_take.media_path if s.chosen_take else None,
             "failing": failing_scores(s.chosen_take) if s.chosen_take else [],
             "review": decision_info(session, decisions.get(s.id))}
            for s in shots
        ]


def render_project_page(settings: AppSettings, project: str) -> str:
    """The HTML of a project's review page: every shot, its state and last decision."""
    rows = shot_rows(settings, project)
    lines = []
    for row in rows:
        href = f"/review/{quote(project, safe='')}/{quote(row['id'], safe='')}"
        failing = f' <span class="fail">✗ {escape(", ".join(row["failing"]))}</span>' if row["failing"] else ""
        lines.append(
            f'<tr><td><a href="{escape(href)}">{_thumb(row)}</a></td>'
            f'<td><a href="{escape(href)}" style="color:#9ab8ff">{escape(row["id"])}</a></td><td>{escape(row["scene"])}</td>'
            f'<td>{escape(row["status"])}{failing}</td><td>{row["chosen_take"] or "—"} of {row["takes"]}</td>'
            f'<td>{escape(_decision(row["review"]))}</td></tr>'
        )
    waiting = sum(r["status"] == "scored" for r in rows)
    stills = f"/keyframes/{quote(project, safe='')}"
    body = (f'<header><h1>{escape(project)}</h1><span class="muted">{len(rows)} shots · {waiting} waiting for a decision · '
            f'<a href="{escape(stills)}">keyframes and sheets</a></span></header>'
            f'<main><!--said--><table class="shots"><tr><th></th><th>shot</th><th>scene</th><th>status</th><th>take</th>'
            f'<th>last decision</th></tr>{"".join(lines)}</table></main>')
    return _page(f"{project} — storyreel review", body)


def _said(request: Request) -> tuple[str | None, bool]:
    said = request.query_params.get("said")
    return (said[:500] if said else None), request.query_params.get("bad") == "1"


async def read_form(request: Request) -> dict[str, str] | Response:
    """A decision form posted from this server's pages (its fields), or the refusal to send:
    a post from another origin (403) or a form over `MAX_FORM_BYTES` (413)."""
    origin = request.headers.get("origin")
    if origin and origin != f"{request.url.scheme}://{request.headers.get('host', '')}":
        return HTMLResponse(_page("refused", "<main><p>A decision must come from this review page.</p></main>"), status_code=403)
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return HTMLResponse(_page("refused", "<main><p>The form is too large.</p></main>"), status_code=413)
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}


Decide = Callable[[AppSettings, str, str, dict[str, str]], tuple[str, bool]]
"""Applies a decision posted for (project, shot) from the form's fields: what happened, and
whether it was applied."""


def _reviewer(request: Request, default: str) -> str:
    """Who reviews in this browser (set on the page, kept in a cookie), else the server's."""
    return (request.cookies.get(REVIEWER_COOKIE) or default)[:128]


def review_routes(settings: AppSettings, decide: Decide, reviewer: str = "") -> list[Route]:
    """The review page's routes for a media server over ``settings.home``; ``decide`` applies
    a posted decision, ``reviewer`` is the name the page starts with."""

    async def project_page(request: Request) -> Response:
        project = request.path_params["project"]
        try:
            html = await run_in_threadpool(render_project_page, settings, project)
        except NotFound as exc:
            return HTMLResponse(_page("not found", f"<main><p>{escape(str(exc))}</p></main>"), status_code=404)
        said, bad = _said(request)
        return HTMLResponse(html.replace("<!--said-->", _page_note(said, bad)))

    async def shot_page(request: Request) -> Response:
        project, key = request.path_params["project"], request.path_params["shot"]
        if request.method == "POST":
            return await _post(request, project, key)
        try:
            html = await run_in_threadpool(render_shot_page, settings, project, key, _reviewer(request, reviewer))
        except NotFound as exc:
            return HTMLResponse(_page("not found", f"<main><p>{escape(str(exc))}</p></main>"), status_code=404)
        said, bad = _said(request)
        return HTMLResponse(html.replace("<!--said-->", _page_note(said, bad)))

    async def _post(request: Request, project: str, key: str) -> Response:
        fields = await read_form(request)
        if isinstance(fields, Response):
            return fields
        here = f"/review/{quote(project, safe='')}/{quote(key, safe='')}"
        if request.query_params.get("reviewer"):
            response = RedirectResponse(here + "?" + urlencode({"said": f"Reviewing as {fields.get('reviewer', '')[:128]}"}), 303)
            response.set_cookie(REVIEWER_COOKIE, fields.get("reviewer", "")[:128], samesite="strict", max_age=365 * 86400)
            return response
        try:
            said, ok = await run_in_threadpool(decide, settings, project, key, fields)
        except NotFound as exc:
            return HTMLResponse(_page("not found", f"<main><p>{escape(str(exc))}</p></main>"), status_code=404)
        except StoryreelError as exc:
            said, ok = f"Not applied: {exc}", False
        except Exception as exc:  # Prefect unreachable, say: the page says so and keeps working
            logging.getLogger(__name__).exception("review of %s/%s", project, key)
            said, ok = f"Not applied: {type(exc).__name__}: {exc}", False
        return RedirectResponse(here + "?" + urlencode({"said": said, **({} if ok else {"bad": "1"})}), 303)

    return [
        Route("/review/{project}", project_page, methods=["GET", "HEAD"]),
        Route("/review/{project}/{shot}", shot_page, methods=["GET", "HEAD", "POST"]),
    ]


def _page_note(said: str | None, bad: bool) -> str:
    return f'<div class="said{" bad" if bad else ""}" role="status">{escape(said)}</div>' if said else ""
