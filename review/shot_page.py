"""One shot's review page, ``/review/<project>/<shot>``: its takes compared in one synced player.

Every take of the current inputs plays on one clock (play, pause, scrub and frame steps move
them all), an A/B wipe lays one take over another, each card shows its contact sheet, scores,
seed, prompt and the notes of every decision on it; the shot's first frame sits beside what it
started from (the hand-off, its approved keyframe, its characters' approved sheets). The
decisions sit in a panel that stays in view, and the keyboard drives it all (``?`` lists the
keys). The page works without its script: every form posts as a plain form.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote

from production.config import AppSettings
from review.decisions import KEY_METRICS, chosen_take, own_text, reviewable_takes, shot_info
from review.html import media_href, page
from review.project_page import decision_text, shot_rows, thumb

STYLE = """
.layout{display:grid;grid-template-columns:minmax(0,1fr) 330px;gap:18px;align-items:start}
@media (max-width:900px){.layout{grid-template-columns:1fr}}
.panel{position:sticky;top:0;max-height:100vh;overflow:auto;background:#20232b;border:1px solid #30343e;border-radius:8px;padding:12px}
.panel form{border-top:1px solid #30343e;padding:10px 0} .panel h2{margin:0 0 6px}
.transport{display:flex;gap:8px;align-items:center;margin:0 0 10px;flex-wrap:wrap} .transport input[type=range]{flex:1;min-width:160px}
.takes{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:12px}
.take{background:#20232b;border:2px solid #30343e;border-radius:8px;padding:8px;min-width:0;cursor:pointer}
.take.chosen{border-color:#4a5f9f} .take.selected{border-color:#ffd166} .take.rejected{opacity:.75;border-style:dashed}
.take video,.take img.sheet{width:100%;image-rendering:pixelated;background:#000;border-radius:4px;display:block}
.take img.sheet{margin-top:6px} .take p{margin:5px 0;font-size:13px} .take details{font-size:13px}
.take ul{margin:4px 0;padding-left:16px;font-size:12px}
.wipe{position:relative;width:min(100%,480px);background:#000;border-radius:6px;overflow:hidden}
.wipe video{width:100%;display:block;image-rendering:pixelated} .wipe video.b{position:absolute;inset:0}
.wipe-bar{display:flex;gap:8px;align-items:center;margin:6px 0;flex-wrap:wrap}
dialog{background:#20232b;color:#e8e8ea;border:1px solid #3a3f4b;border-radius:8px} dialog td{padding:2px 10px}
"""

SCRIPT = r"""
(() => {
  const $ = (q, el = document) => el.querySelector(q), $$ = (q, el = document) => [...el.querySelectorAll(q)];
  const root = $('#compare'); if (!root) return;
  const fps = +root.dataset.fps || 16, frames = Math.max(1, +root.dataset.frames || 1);
  const approvable = (root.dataset.approvable || '').split(',').filter(Boolean).map(Number);
  const scrub = $('#scrub'), counter = $('#frame'), playButton = $('#play');
  const vids = () => $$('video.sync');
  let playing = false;
  const frameOf = t => Math.max(0, Math.min(frames - 1, Math.floor(t * fps + 1e-3)));
  const timeOf = f => (f + 0.5) / fps;
  const show = f => { scrub.value = f; counter.textContent = `frame ${f + 1} / ${frames}`; };
  const pause = () => { playing = false; vids().forEach(v => v.pause()); playButton.textContent = 'Play'; };
  const seek = f => { f = Math.max(0, Math.min(frames - 1, f)); pause(); vids().forEach(v => { v.currentTime = timeOf(f); }); show(f); };
  const tick = () => {
    if (!playing) return;
    const [lead, ...rest] = vids();
    if (lead) {
      rest.forEach(v => { if (Math.abs(v.currentTime - lead.currentTime) > 0.5 / fps) v.currentTime = lead.currentTime; });
      show(frameOf(lead.currentTime));
    }
    requestAnimationFrame(tick);
  };
  const play = () => {
    const from = timeOf(+scrub.value);
    playing = true; playButton.textContent = 'Pause';
    vids().forEach(v => { v.currentTime = from; v.play().catch(() => {}); });
    requestAnimationFrame(tick);
  };
  const toggle = () => (playing ? pause() : play());
  playButton.addEventListener('click', toggle);
  $('#back').addEventListener('click', () => seek(+scrub.value - 1));
  $('#forward').addEventListener('click', () => seek(+scrub.value + 1));
  scrub.addEventListener('input', () => seek(+scrub.value));
  vids().forEach(v => { v.controls = false; v.autoplay = false; v.pause(); });
  show(0);

  // picking a take: the panel approves the picked one
  const pick = n => {
    const card = $(`.take[data-take="${n}"]`); if (!card) return;
    $$('.take').forEach(c => c.classList.toggle('selected', c === card));
    const ok = approvable.includes(n), button = $('#approve-picked');
    $('#approve-take').value = n;
    button.disabled = !ok;
    button.textContent = ok ? `Approve take ${n} (A)` : `Take ${n} cannot be approved`;
  };
  $$('.take').forEach(c => c.addEventListener('click', e => { if (!e.target.closest('form,summary,a')) pick(+c.dataset.take); }));
  if (root.dataset.picked) pick(+root.dataset.picked);

  // the A/B wipe: take B over take A, cut at the slider
  const wipeAt = $('#wipe-at');
  if (wipeAt) {
    const a = $('video.a'), b = $('video.b');
    const cut = () => { b.style.clipPath = `inset(0 0 0 ${wipeAt.value}%)`; };
    const swap = (video, select) => select.addEventListener('change', () => {
      const at = video.currentTime; video.src = select.value;
      video.addEventListener('loadedmetadata', () => { video.currentTime = at; }, {once: true});
    });
    swap(a, $('#wipe-a')); swap(b, $('#wipe-b'));
    wipeAt.addEventListener('input', cut); cut();
  }

  const help = $('#keys');
  $('#show-keys').addEventListener('click', () => help.showModal());
  document.addEventListener('keydown', e => {
    const t = e.target, k = e.key;
    if (e.ctrlKey || e.metaKey || e.altKey || t.closest('textarea,select') || (t.matches('input') && t.type !== 'range')) return;
    if (t.matches('button') && (k === ' ' || k === 'Enter')) return;  // the button's own press
    if (t.matches('input[type=range]') && k.startsWith('Arrow')) return;  // the slider moves itself

    if (/^[1-9]$/.test(k)) pick(+k);
    else if (k === 'a' || k === 'A') { if (!$('#approve-picked').disabled) $('#approve-form').requestSubmit(); }
    else if (k === 'r' || k === 'R') $('#reject-form').requestSubmit();
    else if ((k === 'n' || k === 'N') && root.dataset.next) location.href = root.dataset.next;
    else if (k === ' ') toggle();
    else if (k === 'ArrowLeft') seek(+scrub.value - 1);
    else if (k === 'ArrowRight') seek(+scrub.value + 1);
    else if (k === '?') (help.open ? help.close() : help.showModal());
    else return;
    e.preventDefault();
  });
})();
"""

KEYS = (("1 – 9", "pick that take"), ("A", "approve the picked take"), ("R", "reject the shot"), ("N", "next shot"),
        ("Space", "play / pause every take"), ("← →", "one frame back / forward"), ("?", "this list"))


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


def _hidden(**fields: str | int) -> str:
    return "".join(f'<input type="hidden" name="{k}" value="{escape(str(v))}">' for k, v in fields.items())


def _verdict(take: dict[str, Any]) -> str:
    if take["rejected"]:
        last = take["reviews"][-1]
        return f'<span class="fail" data-rejected>rejected by {escape(last["reviewer"] or "someone")}</span>'
    return {True: '<span class="pass">passed</span>', False: '<span class="fail">failed checks</span>'}.get(take["passed"], escape(take["status"]))


def _take_card(info: dict[str, Any], take: dict[str, Any], allowed: list[int], reviewer: str) -> str:
    n = take["take"]
    chosen = n == info["chosen"]
    video = media_href(take["video"])
    player = (f'<video class="sync" src="{escape(video)}" controls loop muted playsinline preload="auto" data-take="{n}"></video>'
              if video else f'<p class="muted">no video ({escape(take["status"])})</p>')
    sheet = media_href(take["sheet"])
    contact = f'<img class="sheet" src="{escape(sheet)}" alt="contact sheet of take {n}">' if sheet else ""
    notes = "".join(f'<li>{escape(decision_text(r))}</li>' for r in take["reviews"])
    button = ""
    if n in allowed:
        button = (f'<form method="post">{_hidden(decision="approve", take=n, reviewer=reviewer)}'
                  f'<p><input name="notes" placeholder="notes on take {n}" aria-label="notes on take {n}"></p>'
                  f'<button type="submit" data-approve="{n}">Approve take {n}</button></form>')
    error = f'<p class="fail">{escape(take["error"])}</p>' if take.get("error") else ""
    classes = "take" + (" chosen" if chosen else "") + (" rejected" if take["rejected"] else "")
    return (f'<div class="{classes}" id="take-{n}" data-take="{n}"><strong>Take {n}</strong>{" · chosen" if chosen else ""}'
            f'{"" if take["current"] else " · <span class=muted>older inputs</span>"} — {_verdict(take)}{player}{contact}'
            f'<p><span class="muted">seed</span> {take["seed"]}</p>'
            f'<details><summary>prompt</summary><p>{escape(take["prompt"] or "")}</p></details>{_scores(take)}'
            f'{f"<ul>{notes}</ul>" if notes else ""}{error}{button}</div>')


def _wipe(current: list[dict[str, Any]], info: dict[str, Any]) -> str:
    """Two takes in one frame, B over A up to the slider."""
    playable = [t for t in current if t["video"]]
    if len(playable) < 2:
        return ""
    chosen = chosen_take(info)
    first = chosen if chosen in playable else playable[0]
    second = next(t for t in playable if t is not first)

    def choices(picked: dict[str, Any]) -> str:
        return "".join(f'<option value="{escape(media_href(t["video"]) or "")}"{" selected" if t is picked else ""}>take {t["take"]}</option>'
                       for t in playable)

    return (f'<h2>A/B wipe</h2><div class="wipe-bar"><label>A <select id="wipe-a">{choices(first)}</select></label>'
            f'<label>B <select id="wipe-b">{choices(second)}</select></label>'
            f'<label>wipe <input type="range" id="wipe-at" min="0" max="100" value="50"></label></div>'
            f'<div class="wipe"><video class="sync a" src="{escape(media_href(first["video"]) or "")}" muted loop playsinline preload="auto"></video>'
            f'<video class="sync b" src="{escape(media_href(second["video"]) or "")}" muted loop playsinline preload="auto"></video></div>')


START_CAPTIONS = {"keyframe": "start: its approved keyframe", "reference": "start: its reference image",
                  "t2i": "start: a keyframe drawn for it", "t2v": "start: no image (text only)", "neutral": "start: a neutral frame"}
"""What a take's start frame was, by its recorded source (``previous:N`` is a hand-off)."""


def _frames(info: dict[str, Any], settings: AppSettings) -> str:
    """This shot's first frame beside what it started from: the start frame the chosen take was
    given (hand-off, keyframe or reference), its approved keyframes and its characters' sheets."""
    take = chosen_take(info) or (info["takes"][-1] if info["takes"] else None)
    store = settings.artifacts()
    figures = []
    if take is not None:
        source = take.get("start") or ""
        if source.startswith("previous") or (info["conditioned_on"] and not source):
            start = f"hand-off from {info['conditioned_on']}"
        else:
            start = START_CAPTIONS.get(source, "start frame")
        for key, caption in (("start_frame", start), ("first_frame", f"{info['shot']} take {take['take']}: first frame")):
            relative = take.get(key)
            if relative and store.path(relative).is_file():
                figures.append((relative, caption))
    figures[1:1] = [(s["image"], s["caption"]) for s in info["stills"] if store.path(s["image"]).is_file()]
    if not figures:
        return ""
    shown = "".join(f'<figure><img src="{escape(media_href(r) or "")}" alt="{escape(c)}"><figcaption>{escape(c)}</figcaption></figure>'
                    for r, c in figures)
    return f'<h2>Across the cut</h2><div class="frames">{shown}</div>'


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


def shot_href(project: str, key: str) -> str:
    """The review page of one shot."""
    return f"/review/{quote(project, safe='')}/{quote(key, safe='')}"


def _strip(project: str, rows: list[dict[str, Any]], here: str | None) -> str:
    cells = [f'<a href="{escape(shot_href(project, r["id"]))}"{" class=here" if r["id"] == here else ""}>{thumb(r)}{escape(r["id"])}<br>'
             f'<span class="muted">{escape(r["status"])}</span></a>' for r in rows]
    return f'<div class="strip">{"".join(cells)}</div>'


def _panel(info: dict[str, Any], reviewer: str, picked: int, next_href: str | None) -> str:
    """The decisions, always in view: approve the picked take, reject the shot, reroll it."""
    anchor = ""
    if info["characters"]:  # as the Prefect form's anchor field, and `storyreel anchor`
        options = "".join(f'<option value="{escape(c)}">and make it {escape(c)}\'s anchor</option>' for c in info["characters"])
        anchor = f'<p><select name="anchor" aria-label="anchor"><option value="">anchors as they are</option>{options}</select></p>'
    label = f"Approve take {picked} (A)" if picked else "No take to approve"
    nxt = f'<a href="{escape(next_href)}">next shot (N) ›</a>' if next_href else '<span class="muted">last shot</span>'
    return (f'<aside class="panel" aria-label="decide"><h2>Decide</h2><p class="muted">last: {escape(decision_text(info["last_decision"]))}</p>'
            f'<form method="post" id="approve-form">{_hidden(decision="approve", reviewer=reviewer)}'
            f'<input type="hidden" name="take" id="approve-take" value="{picked or ""}">{anchor}'
            f'<p><textarea name="notes" placeholder="notes" aria-label="notes with the approval"></textarea></p>'
            f'<button type="submit" id="approve-picked"{"" if picked else " disabled"}>{label}</button></form>'
            f'<form method="post" id="reject-form">{_hidden(decision="reject", reviewer=reviewer)}'
            f'<p><textarea name="notes" placeholder="why (kept with the rejection)" aria-label="notes with the rejection"></textarea></p>'
            f'<button class="reject" type="submit">Reject the shot (R)</button></form>'
            f'<form method="post">{_hidden(decision="reroll", reviewer=reviewer)}'
            f'<p><label>The shot\'s own text (style and characters are composed around it)<br>'
            f'<textarea name="prompt">{escape(own_text(info))}</textarea></label></p>'
            f'<p><label>Seed <input name="seed" size="10" placeholder="next"></label> <input name="notes" size="14" placeholder="notes" aria-label="notes with the reroll"></p>'
            f'<button class="reroll" type="submit">Reroll a new take</button></form>'
            f'<form method="post" action="?reviewer=1"><label>Reviewing as <input name="reviewer" value="{escape(reviewer)}" size="14"></label> '
            f'<button class="reroll" type="submit">Change</button></form><p>{nxt}</p></aside>')


def _keys() -> str:
    rows = "".join(f"<tr><td><kbd>{escape(k)}</kbd></td><td>{escape(what)}</td></tr>" for k, what in KEYS)
    return f'<dialog id="keys"><h2>Keys</h2><table>{rows}</table><form method="dialog"><button>Close</button></form></dialog>'


def render_shot_page(settings: AppSettings, project: str, key: str, reviewer: str) -> str:
    """The HTML of one shot's review page."""
    info = shot_info(settings, project, key)
    rows = shot_rows(settings, project)
    allowed = reviewable_takes(info)
    current = [t for t in info["takes"] if t["current"]] or info["takes"]
    cards = "".join(_take_card(info, t, allowed, reviewer) for t in current) or '<p class="muted">no takes yet</p>'
    older = len(info["takes"]) - len(current)
    picked = info["chosen"] if info["chosen"] in allowed else (allowed[-1] if allowed else 0)
    order = [r["id"] for r in rows]
    next_href = shot_href(project, order[order.index(key) + 1]) if key in order and order.index(key) + 1 < len(order) else None
    playable = [t for t in current if t["video"]]
    fps = (chosen_take(info) or (playable[0] if playable else {})).get("fps") or 16
    frames = max((t["frames"] or 1 for t in playable), default=1)
    home = f"/review/{quote(project, safe='')}"
    compare = (f'<div id="compare" data-fps="{fps}" data-frames="{frames}" data-picked="{picked or ""}" '
               f'data-approvable="{",".join(map(str, allowed))}" data-next="{escape(next_href or "")}">'
               f'<div class="transport"><button type="button" id="play">Play</button><button type="button" id="back" aria-label="frame back">◀</button>'
               f'<button type="button" id="forward" aria-label="frame forward">▶</button>'
               f'<input type="range" id="scrub" min="0" max="{frames - 1}" step="1" value="0" aria-label="scrub every take">'
               f'<span id="frame" class="muted"></span></div><div class="takes">{cards}</div>{_wipe(current, info)}</div>')
    body = (
        f'<header><a href="/">projects</a> › <a href="{escape(home)}">{escape(project)}</a> › <h1 style="display:inline">Shot {escape(key)}</h1> '
        f'<span class="muted">scene {escape(info["scene"])} · {escape(info["status"])} · reviewing as {escape(reviewer)}</span> '
        f'<button type="button" class="reroll" id="show-keys" title="keys">?</button></header>'
        f'<main><!--said--><div class="layout"><div><h2>Chain</h2>{_strip(project, _chain(rows, key), key)}'
        f'<h2>Takes of the current inputs ({len(current)}){f" · {older} older not shown" if older else ""}</h2>{compare}'
        f'{_frames(info, settings)}</div>{_panel(info, reviewer, picked, next_href)}</div></main>{_keys()}'
        f'<script>{SCRIPT}</script>'
    )
    return page(f"{project} {key} — storyreel review", body, STYLE)
