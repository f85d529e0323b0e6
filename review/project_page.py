"""A project's review page, ``/review/<project>``, and the list of projects, ``/``.

The project page shows every shot as a tile (its first frame, status, chosen take, last
decision), a player for the newest cut, and that cut's timeline: the same entries the OTIO export
writes (shot, take, where it starts, how long, the transition out), with each shot's approval.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote

from production.config import AppSettings
from production.store import decision_info, failing_scores, last_decisions, transaction
from review.html import media_href, page
from storage.artifacts import TakeFiles
from storage.repo import get_project, latest_cut, list_projects, live_shots

STYLE = """
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px}
.tile{background:#20232b;border:1px solid #30343e;border-radius:8px;padding:8px;font-size:13px;color:#e8e8ea}
.tile img{width:100%;aspect-ratio:1;object-fit:cover;image-rendering:pixelated;border-radius:4px;display:block;background:#111}
.tile.approved{border-color:#2f6b46} .tile.rejected{border-color:#7a3440}
.cut video{width:min(100%,480px);background:#000;border-radius:6px;display:block;image-rendering:pixelated}
.timeline{display:flex;align-items:stretch;gap:0;margin:8px 0;min-height:64px}
.clip{background:#2a3350;border:1px solid #4a5f9f;border-radius:4px;padding:4px 6px;font-size:12px;overflow:hidden;min-width:0}
.clip.approved{background:#1f3a2a;border-color:#2f6b46}
.join{display:flex;align-items:center;justify-content:center;width:48px;flex:none;font-size:11px;color:#9a9ca5;text-align:center}
table.projects{border-collapse:collapse} .projects td,.projects th{padding:6px 12px;border-bottom:1px solid #30343e;text-align:left}
"""


def thumb(row: dict[str, Any]) -> str:
    """A shot's first frame (of its chosen take) as an image, or an empty box."""
    src = media_href(TakeFiles.of_video(row["video"]).first_frame) if row.get("video") else None
    return f'<img src="{escape(src)}" alt="">' if src else '<img alt="">'


def decision_text(review: dict[str, Any] | None) -> str:
    """A decision in words: ``approve take 2 by mara at 2026-12-07 10:02 — “warmer”``."""
    if not review:
        return "no decision yet"
    take = f" take {review['take']}" if review.get("take") and review["decision"] != "reroll" else ""
    who = f" by {review['reviewer']}" if review.get("reviewer") else ""
    notes = f" — “{review['notes']}”" if review.get("notes") else ""
    return f"{review['decision']}{take}{who} at {review['at'][:16].replace('T', ' ')}{notes}"


def shot_rows(settings: AppSettings, project: str) -> list[dict[str, Any]]:
    """Every live shot, in story order, as the pages list them (no media hashing: a page load
    stays quick however long the film)."""
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


def newest_cut(settings: AppSettings, project: str) -> dict[str, Any] | None:
    """The project's newest finished cut: its file, frames, rate and entries (as the OTIO
    export's clips: shot, take, in, out, record_start, transition_out)."""
    with transaction(settings.database()) as session:
        cut = latest_cut(session, get_project(session, project))
        if cut is None or not cut.output_path:
            return None
        return {"number": cut.number, "path": cut.output_path, "frames": cut.frames, "fps": float(cut.settings.get("fps") or 16),
                "entries": list(cut.entries or []), "at": cut.created_at.isoformat(timespec="minutes")}


def _timeline(cut: dict[str, Any], rows: dict[str, dict[str, Any]]) -> str:
    total = max(1, sum(e["out"] - e["in"] for e in cut["entries"]))
    parts = []
    for index, entry in enumerate(cut["entries"]):
        frames = entry["out"] - entry["in"]
        row = rows.get(entry["shot"], {})
        approved = row.get("status") == "approved"
        review = row.get("review") or {}
        by = f" by {review['reviewer']}" if review.get("reviewer") else ""
        mark = f"✓ approved{by}" if approved else row.get("status", "not live")
        parts.append(f'<div class="clip{" approved" if approved else ""}" style="flex:{frames / total:.4f} 1 0" data-shot="{escape(entry["shot"])}" '
                     f'data-take="{entry["take"]}" data-start="{entry["record_start"]}" data-frames="{frames}">'
                     f'<strong>{escape(entry["shot"])}</strong> · take {entry["take"]}<br>{frames / cut["fps"]:.2f} s · starts {entry["record_start"] / cut["fps"]:.2f} s'
                     f'<br><span class="muted">{escape(mark)}</span></div>')
        if index < len(cut["entries"]) - 1:
            out = entry["transition_out"]
            fade = out.get("crossfade_frames", 0) if isinstance(out, dict) else 0
            parts.append(f'<div class="join" data-transition="{f"crossfade:{fade}" if fade else "cut"}">'
                         f'{f"fade {fade} f" if fade else "cut"}</div>')
    return f'<div class="timeline" aria-label="timeline of cut {cut["number"]}">{"".join(parts)}</div>'


def render_project_page(settings: AppSettings, project: str) -> str:
    """The HTML of a project's review page: every shot, the newest cut and its timeline."""
    rows = shot_rows(settings, project)
    tiles = []
    for row in rows:
        href = f"/review/{quote(project, safe='')}/{quote(row['id'], safe='')}"
        failing = f'<br><span class="fail">✗ {escape(", ".join(row["failing"]))}</span>' if row["failing"] else ""
        tiles.append(f'<a class="tile {escape(row["status"])}" href="{escape(href)}" data-shot="{escape(row["id"])}">{thumb(row)}'
                     f'<strong>{escape(row["id"])}</strong> · scene {escape(row["scene"])}<br>{escape(row["status"])} · '
                     f'take {row["chosen_take"] or "—"} of {row["takes"]}{failing}<br>'
                     f'<span class="muted">{escape(decision_text(row["review"]))}</span></a>')
    waiting = sum(r["status"] == "scored" for r in rows)
    stills = f"/keyframes/{quote(project, safe='')}"
    cut = newest_cut(settings, project)
    if cut:
        src = media_href(cut["path"]) or ""
        shown = (f'<h2>Cut {cut["number"]}</h2><div class="cut"><video src="{escape(src)}" controls preload="metadata" playsinline></video>'
                 f'<p class="muted">{cut["frames"]} frames · {cut["frames"] / cut["fps"]:.2f} s at {cut["fps"]:g} fps · made {escape(cut["at"][:16].replace("T", " "))}</p></div>'
                 f'<h2>Timeline</h2>{_timeline(cut, {r["id"]: r for r in rows})}')
    else:
        shown = '<h2>Cut</h2><p class="muted">no cut yet: storyreel render (or export) makes one</p>'
    body = (f'<header><a href="/">projects</a> › <h1 style="display:inline">{escape(project)}</h1> <span class="muted">{len(rows)} shots · '
            f'{waiting} waiting for a decision · <a href="{escape(stills)}">keyframes and sheets</a></span></header>'
            f'<main><!--said-->{shown}<h2>Shots</h2><div class="tiles">{"".join(tiles)}</div></main>')
    return page(f"{project} — storyreel review", body, STYLE)


def render_index(settings: AppSettings) -> str:
    """Every project in the database, with its shots, approvals and newest cut."""
    lines = []
    with transaction(settings.database()) as session:
        for project in list_projects(session):
            shots = live_shots(session, project)
            cut = latest_cut(session, project)
            href = f"/review/{quote(project.name, safe='')}"
            approved = sum(s.status == "approved" for s in shots)
            lines.append(f'<tr><td><a href="{escape(href)}">{escape(project.name)}</a></td><td>{len(shots)}</td><td>{approved}</td>'
                         f'<td>{f"cut {cut.number}" if cut else "—"}</td>'
                         f'<td><a href="/keyframes/{escape(quote(project.name, safe=""))}">keyframes</a></td></tr>')
    table = (f'<table class="projects"><tr><th>project</th><th>shots</th><th>approved</th><th>newest cut</th><th></th></tr>{"".join(lines)}</table>'
             if lines else '<p class="muted">No projects yet: storyreel render FILE makes one.</p>')
    return page("storyreel review", f'<header><h1>Projects</h1></header><main>{table}</main>', STYLE)
