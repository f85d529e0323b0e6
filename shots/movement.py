"""Whether two shots' prompts describe the same movement: where ``motion`` at a join is judged.

The ``motion`` metric asks whether the motion before a ``continue`` join carries on after it. A
real chain changes motion on purpose (walks, then stops; closes in, then moves up), so the
metric is judged by default only where the later shot's prompt describes the same movement as
the earlier one's — the same verb of motion with the same direction, or words that say it goes
on (``keeps``, ``continues``, ``moves on``, ``still``) — and recorded unjudged elsewhere. A
threshold the storyboard sets for the shot itself is always applied.
"""

from __future__ import annotations

import re

_STEMS = {
    "move": "move", "moves": "move", "moving": "move", "walk": "walk", "walks": "walk", "walking": "walk",
    "run": "run", "runs": "run", "running": "run", "drive": "drive", "drives": "drive", "driving": "drive",
    "fly": "fly", "flies": "fly", "flying": "fly", "swim": "swim", "swims": "swim", "swimming": "swim",
    "fall": "fall", "falls": "fall", "falling": "fall", "rise": "rise", "rises": "rise", "rising": "rise",
    "climb": "climb", "climbs": "climb", "climbing": "climb", "spin": "spin", "spins": "spin", "spinning": "spin",
    "turn": "turn", "turns": "turn", "turning": "turn", "bounce": "bounce", "bounces": "bounce", "bouncing": "bounce",
    "grow": "grow", "grows": "grow", "growing": "grow", "shrink": "shrink", "shrinks": "shrink", "shrinking": "shrink",
    "meet": "meet", "meets": "meet", "meeting": "meet", "stop": "stop", "stops": "stop", "stopping": "stop",
    "sit": "sit", "sits": "sit", "stand": "stand", "stands": "stand", "roll": "roll", "rolls": "roll",
    "drift": "drift", "drifts": "drift", "slide": "slide", "slides": "slide", "jump": "jump", "jumps": "jump",
    "close": "close", "closes": "close", "approach": "approach", "approaches": "approach", "follow": "follow", "follows": "follow",
}  # fmt: skip
_DIRECTIONS = frozenset("left right up down forward forwards backward backwards back away toward towards around in out off".split())
_GOES_ON = re.compile(r"\b(?:keeps?|keeping|continues?|continuing|still|on and on|goes on|moves? on|carries on)\b", re.IGNORECASE)
_WORD = re.compile(r"[a-z]+")


def movements(prompt: str) -> frozenset[tuple[str, str]]:
    """(verb of motion, direction) pairs a prompt describes: ``moves right`` → ("move", "right")."""
    words = _WORD.findall(prompt.lower())
    found = set()
    for i, word in enumerate(words):
        stem = _STEMS.get(word)
        if stem is None:
            continue
        direction = next((w for w in words[i + 1 : i + 4] if w in _DIRECTIONS), "")
        found.add((stem, direction))
    return frozenset(found)


def same_movement(before: str, after: str) -> bool:
    """Whether ``after`` describes the movement of ``before`` going on (see the module docstring)."""
    if _GOES_ON.search(after):
        return True
    moves_before, moves_after = movements(before), movements(after)
    return bool(moves_before) and moves_before == moves_after
