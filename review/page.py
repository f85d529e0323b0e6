"""The review pages' routes, on the media server: ``/`` lists projects, ``/review/<project>``
shows a project (`review.project_page`), ``/review/<project>/<shot>`` compares a shot's takes
and decides (`review.shot_page`).

Approve / reject / reroll resume the flow run waiting for this shot with the input its Prefect
form takes (the ``decide`` function the server is given: `flows.review_flow.decide`); when no
run waits, the decision is recorded and a re-roll queued, as `storyreel approve` / `rerender`
do. Every path ends in one `Review` row (an approval of the take already approved, in none). The
reviewer is the page's setting (a cookie), else the server's (``--reviewer``,
``$STORYREEL_REVIEWER``, the login name): never empty.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from production.config import AppSettings
from review.html import REVIEWER_COOKIE, Said, not_found, read_form, reviewer_of
from review.project_page import render_index, render_project_page
from review.shot_page import render_shot_page, shot_href
from shots.errors import NotFound, StoryreelError

Decide = Callable[[AppSettings, str, str, dict[str, str]], tuple[str, bool]]
"""Applies a decision posted for (project, shot) from the form's fields: what happened, and
whether it was applied."""


def review_routes(settings: AppSettings, decide: Decide, reviewer: str = "reviewer", said: Said | None = None) -> list[Route]:
    """The review pages' routes for a media server over ``settings.home``; ``decide`` applies a
    posted decision, ``reviewer`` is who decides when the page names nobody, ``said`` keeps
    what the pages tell after a post (shared with the keyframe page)."""
    said = said or Said()
    default = reviewer.strip()[:128] or "reviewer"

    async def index(request: Request) -> Response:
        return HTMLResponse(await run_in_threadpool(render_index, settings))

    async def project_page(request: Request) -> Response:
        project = request.path_params["project"]
        try:
            html = await run_in_threadpool(render_project_page, settings, project)
        except NotFound as exc:
            return not_found(str(exc))
        return HTMLResponse(html.replace("<!--said-->", said.note(request)))

    async def shot_page(request: Request) -> Response:
        project, key = request.path_params["project"], request.path_params["shot"]
        if request.method == "POST":
            return await _post(request, project, key)
        try:
            html = await run_in_threadpool(render_shot_page, settings, project, key, reviewer_of(request, default))
        except NotFound as exc:
            return not_found(str(exc), project)
        return HTMLResponse(html.replace("<!--said-->", said.note(request)))

    async def _post(request: Request, project: str, key: str) -> Response:
        fields = await read_form(request)
        if isinstance(fields, Response):
            return fields
        here = shot_href(project, key)
        if request.query_params.get("reviewer"):
            name = fields.get("reviewer", "").strip()[:128]
            response = RedirectResponse(here + "?" + urlencode({"said": said.keep(f"Reviewing as {name or default}", True)}), 303)
            if name:
                response.set_cookie(REVIEWER_COOKIE, name, samesite="strict", max_age=365 * 86400)
            else:
                response.delete_cookie(REVIEWER_COOKIE)
            return response
        fields["reviewer"] = fields.get("reviewer", "").strip()[:128] or reviewer_of(request, default)
        try:
            text, ok = await run_in_threadpool(decide, settings, project, key, fields)
        except NotFound as exc:
            return not_found(str(exc), project)
        except StoryreelError as exc:
            text, ok = f"Not applied: {exc}", False
        except Exception as exc:  # Prefect unreachable, say: the page says so and keeps working
            logging.getLogger(__name__).exception("review of %s/%s", project, key)
            text, ok = f"Not applied: {type(exc).__name__}: {exc}", False
        return RedirectResponse(here + "?" + urlencode({"said": said.keep(text, ok)}), 303)

    return [
        Route("/", index, methods=["GET", "HEAD"]),
        Route("/review/{project}", project_page, methods=["GET", "HEAD"]),
        Route("/review/{project}/{shot}", shot_page, methods=["GET", "HEAD", "POST"]),
    ]
