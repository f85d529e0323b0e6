"""The keyframe review page: ``/keyframes/<project>`` shows every character's sheet and, scene
by scene, every shot's start and end keyframes, their takes side by side, with approve /
reject per take and a re-roll (an edited prompt or seed) per still.

Decisions go through `production.stills` as `storyreel approve-keyframe` / `approve-sheet`
do: the same rows (reviewer, notes), the same leases (a still's slot is held while it is
decided or re-rolled).
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from production.config import AppSettings
from production.context import RenderContext, context_for, with_revision
from production.stills import decide_slot, make_stills, project_job, still_rows
from review.decisions import parse_seed
from review.html import Said, media_href, not_found, page, read_form, reviewer_of
from shots.errors import NotFound, StoryreelError

STILLS_STYLE = """
.row{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start}
.slot{background:#1b1e24;border:1px solid #2a2e37;border-radius:8px;padding:8px;margin:0}
.grid{display:flex;gap:8px}
.still{background:#20232b;border:1px solid #30343e;border-radius:8px;padding:6px;width:150px}
.still.approved{border-color:#4fbf74} .still.rejected{opacity:.55} .still.chosen{border-color:#6c8cff}
.still img{width:100%;image-rendering:pixelated;border-radius:4px;background:#000}
.still p{margin:3px 0;font-size:12px} .slot h3{font-size:13px;margin:0 0 6px}
.badge{font-size:12px;padding:1px 6px;border-radius:8px;background:#30343e} .badge.approved{background:#1f5a35}
.badge.rejected{background:#6a2a33} .badge.stale{background:#6a5a1f}
.still form{display:inline} .still button{padding:3px 8px;font-size:12px}
.reroll{margin-top:6px;display:flex;flex-direction:column;gap:4px;max-width:316px}
.reroll textarea{width:auto;height:34px;font-size:12px} .reroll input{font-size:12px} .reroll button{align-self:flex-start}
"""

def stills_context(settings: AppSettings, project: str) -> RenderContext:
    """The project's render context for its storyboard as it is now."""
    return context_for(with_revision(project_job(settings, project)), settings)


def _scores(take: dict[str, Any]) -> str:
    return " · ".join(f"{escape(k)} {v:.2f}" for k, v in sorted(take["scores"].items()) if v is not None)


def _card(slot: dict[str, Any], take: dict[str, Any], reviewer: str) -> str:
    state = "approved" if take["status"] == "approved" else "rejected" if take["status"] == "rejected" else ""
    chosen = " chosen" if take["attempt"] == slot["chosen"] and not state else ""
    image = f'<img src="{escape(media_href(take["image"]) or "")}" alt="{escape(slot["label"])} take {take["attempt"]}">' \
        if take["image"] else f'<p class="fail">{escape(take["error"] or "failed")}</p>'
    verdict = {True: '<span class="pass">passed</span>', False: '<span class="fail">failed checks</span>'}.get(take["passed"], "")
    fields = (f'<input type="hidden" name="kind" value="{escape(slot["kind"])}"><input type="hidden" name="subject" value="{escape(slot["subject"])}">'
              f'<input type="hidden" name="role" value="{escape(slot["role"])}"><input type="hidden" name="take" value="{take["attempt"]}">'
              f'<input type="hidden" name="reviewer" value="{escape(reviewer)}">')
    ident = f'{slot["kind"]}-{slot["subject"]}-{slot["role"]}-{take["attempt"]}'.replace(" ", "-")
    buttons = "" if not take["image"] else (
        f'<form method="post">{fields}<input type="hidden" name="decision" value="approve">'
        f'<button type="submit" data-approve="{escape(ident)}">Approve</button></form> '
        f'<form method="post">{fields}<input type="hidden" name="decision" value="reject">'
        f'<button class="reject" type="submit" data-reject="{escape(ident)}">Reject</button></form>')
    who = f' by {escape(take["reviewer"])}' if take["reviewer"] and state else ""
    badge = f'<span class="badge {state}">{state}{who}</span>' if state else ""
    return (f'<div class="still {state}{chosen}" data-still="{escape(ident)}">{image}<p><strong>take {take["attempt"]}</strong> '
            f'{badge} {verdict}</p><p class="muted">seed {take["seed"]} · {_scores(take)}</p>{buttons}</div>')


def _slot(slot: dict[str, Any], reviewer: str) -> str:
    cards = "".join(_card(slot, take, reviewer) for take in slot["takes"]) or '<p class="muted">not made yet</p>'
    prompt = slot["takes"][-1]["prompt"] if slot["takes"] else ""
    reroll = (f'<form method="post" class="reroll"><input type="hidden" name="decision" value="reroll">'
              f'<input type="hidden" name="kind" value="{escape(slot["kind"])}"><input type="hidden" name="subject" value="{escape(slot["subject"])}">'
              f'<input type="hidden" name="role" value="{escape(slot["role"])}"><input type="hidden" name="reviewer" value="{escape(reviewer)}">'
              f'<textarea name="prompt" aria-label="prompt">{escape(prompt)}</textarea><label>Seed <input name="seed" size="10" placeholder="next"></label>'
              f'<button class="reroll" type="submit">Reroll</button></form>')
    stale = f' <span class="badge stale">{slot["stale_takes"]} older takes stale</span>' if slot["stale_takes"] else ""
    return (f'<div class="slot"><h3>{escape(slot["label"])} <span class="badge {escape(slot["status"])}">{escape(slot["status"])}</span>{stale}</h3>'
            f'<div class="grid">{cards}</div>{reroll}</div>')


def render_stills_page(settings: AppSettings, project: str, reviewer: str) -> str:
    """The HTML of a project's keyframe review page."""
    rows = still_rows(stills_context(settings, project))
    sheets = [r for r in rows if r["kind"] == "sheet"]
    scenes: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row["kind"] == "keyframe":
            scenes.setdefault(str(row["scene"]), []).append(row)
    characters: dict[str, list[dict[str, Any]]] = {}
    for row in sheets:
        characters.setdefault(str(row["subject"]), []).append(row)
    parts = []
    if characters:  # one row per character: its views side by side
        parts.append("<h2>Character sheets</h2>" + "".join(f'<div class="row">{"".join(_slot(r, reviewer) for r in views)}</div><br>'
                                                           for views in characters.values()))
    for scene, slots in scenes.items():  # one row per scene: its shots' keyframes side by side
        parts.append(f'<h2>Scene {escape(scene)}</h2><div class="row">{"".join(_slot(r, reviewer) for r in slots)}</div>')
    waiting = sum(r["status"] not in ("approved",) for r in rows)
    home = f"/review/{quote(project, safe='')}"
    body = (f'<header><a href="{escape(home)}">{escape(project)}</a> › <h1 style="display:inline">Keyframes and sheets</h1> '
            f'<span class="muted">{len(rows)} stills · {waiting} not approved · reviewing as {escape(reviewer or "—")}</span></header>'
            f'<main><!--said-->{"".join(parts) or "<p class=muted>This storyboard plans no stills.</p>"}</main>')
    return page(f"{project} keyframes — storyreel review", body, STILLS_STYLE)


def apply_still_decision(settings: AppSettings, project: str, fields: dict[str, str]) -> str:
    """Apply a posted approve / reject / reroll; what happened, in words.

    Raises:
        StoryreelError: A decision the storyboard or the takes refuse (said on the page).
    """
    ctx = stills_context(settings, project)
    key = (fields.get("kind", ""), fields.get("subject", ""), fields.get("role", ""))
    decision = fields.get("decision", "")
    reviewer = fields.get("reviewer", "")[:128]
    if decision == "reroll":
        seed, problem = parse_seed(fields.get("seed"))
        if problem:
            from shots.errors import ConfigError

            raise ConfigError(problem)
        report = make_stills(ctx, reroll=key, seed=seed, prompt=(fields.get("prompt") or "").strip() or None)
        state = next(s for s in report.states if s.spec.key == key)
        return f"Rerolled {state.spec.label}: take {state.takes[-1].attempt if state.takes else '?'}"
    take = int(fields["take"]) if fields.get("take", "").isdigit() else None
    decided = decide_slot(ctx, key, take, decision, reviewer, fields.get("notes", "")[:2000])
    verb = "Approved" if decision == "approve" else "Rejected"
    return "; ".join(f"{verb} {s.subject} {s.role} take {s.attempt}" + (f" by {s.reviewer}" if s.reviewer else "") for s in decided)


def stills_routes(settings: AppSettings, reviewer: str = "reviewer", said: Said | None = None) -> list[Route]:
    """The keyframe review page's route for a media server over ``settings.home`` (``said``:
    what the pages tell after a post, shared with the shot pages)."""
    said = said or Said()
    default = reviewer.strip()[:128] or "reviewer"

    async def keyframes_page(request: Request) -> Response:
        project = request.path_params["project"]
        here = f"/keyframes/{quote(project, safe='')}"
        if request.method == "POST":
            fields = await read_form(request)
            if isinstance(fields, Response):
                return fields
            fields["reviewer"] = fields.get("reviewer", "").strip()[:128] or reviewer_of(request, default)
            try:
                text, ok = await run_in_threadpool(apply_still_decision, settings, project, fields), True
            except StoryreelError as exc:
                text, ok = f"Not applied: {exc}", False
            return RedirectResponse(here + "?" + urlencode({"said": said.keep(text, ok)}), 303)
        try:
            html = await run_in_threadpool(render_stills_page, settings, project, reviewer_of(request, default))
        except NotFound as exc:
            return not_found(str(exc), project)
        return HTMLResponse(html.replace("<!--said-->", said.note(request)))

    return [Route("/keyframes/{project}", keyframes_page, methods=["GET", "HEAD", "POST"])]
