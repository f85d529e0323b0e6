"""The synthetic motion world: reproducible, captions in one grammar, shapes stay in frame."""

from __future__ import annotations

import numpy as np
import pytest

from generation.training.data import prompt_for, sample_clips
from generation.world import (
    COLORS,
    DIRECTIONS,
    MOTIONS,
    SPEED,
    Actor,
    ClipSpec,
    end_state,
    held_out,
    parse_caption,
    render_clip,
    sample_spec,
)


def test_same_seed_same_clips_and_captions() -> None:
    a, specs_a = sample_clips(np.random.default_rng(5), 6)
    b, specs_b = sample_clips(np.random.default_rng(5), 6)
    c, _ = sample_clips(np.random.default_rng(6), 6)
    assert a.dtype == np.uint8 and a.shape == (6, 17, 64, 64, 3)
    assert np.array_equal(a, b)
    assert [s.caption() for s in specs_a] == [s.caption() for s in specs_b]
    assert not np.array_equal(a, c)


def test_caption_grammar() -> None:
    one = ClipSpec((Actor("circle", "red"),), "right", "green")
    two = ClipSpec((Actor("star", "orange", 0.3), Actor("square", "blue", 0.7)), "meet", "white")
    grows = ClipSpec((Actor("star", "orange", 0.3), Actor("square", "blue", 0.7)), "grows", "white")
    assert one.caption() == "a red circle moves right on a green background"
    assert two.caption() == "an orange star and a blue square meet on a white background"
    assert grows.caption() == "an orange star and a blue square grow on a white background"


def test_captions_parse_back_to_what_they_describe() -> None:
    rng = np.random.default_rng(11)
    for n in range(400):
        spec = sample_spec(rng, actors=1 + n % 2)
        parsed = parse_caption(spec.caption() + ".")  # storyboard prompts end with a full stop
        assert parsed.caption() == spec.caption()
        assert (parsed.motion, parsed.background) == (spec.motion, spec.background)
        assert [(a.shape, a.color) for a in parsed.actors] == [(a.shape, a.color) for a in spec.actors]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a red circle dances on a blue background", "no motion; motions: left, right"),
        ("a red circle moves sideways on a blue background", "'move' takes one of left, right, up, down"),
        ("a red circle moves up on a mauve background", "not a caption of the world"),
        ("a red circle moves up on a blue backdrop", "not a caption of the world"),
        ("a red blob moves up on a blue background", "'<a|an> <colour> <shape>'"),
        ("a red circle move up on a blue background", "not a caption of the world"),  # agreement
        ("a red circle meet on a blue background", "'meet' needs two shapes"),
        ("a red circle and a blue square meet on a blue background", "another colour than the shapes'"),
        ("a red circle grows quickly on a blue background", "nothing may follow 'grows'"),
        ("and a red circle moves up on a blue background", "'' is not '<a|an> <colour> <shape>'"),
        ("a red circle moves up left on a blue background", "'move' takes one of"),
    ],
)
def test_text_outside_the_grammar_is_refused_with_what_is_expected(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_caption(text)


def test_identity_persists_and_carries_across_shots() -> None:
    spec = ClipSpec((Actor("square", "blue", 0.3, 0.5),), "right", "yellow")
    clip = render_clip(spec, 9)
    blue = np.all(clip == COLORS["blue"], axis=-1).sum(axis=(1, 2))
    assert blue.min() > 0.8 * blue.max()  # the square keeps its colour and size
    xs = [np.nonzero(np.all(f == COLORS["blue"], axis=-1))[1].mean() for f in clip]
    assert np.all(np.diff(xs) > 0)  # and moves right
    after = render_clip(ClipSpec(end_state(spec), "up", "yellow"), 9)
    assert np.array_equal(after[0], clip[-1])  # the next shot starts where this one ended


def test_meet_brings_two_shapes_together_and_needs_two() -> None:
    spec = ClipSpec((Actor("circle", "red", 0.25), Actor("square", "blue", 0.75)), "meet", "green")
    a, b = end_state(spec)
    assert a.x > 0.25 and b.x < 0.75 and b.x - a.x < 0.5
    with pytest.raises(ValueError, match="two actors"):
        render_clip(ClipSpec((Actor("circle", "red"),), "meet", "green"), 5)


@pytest.mark.parametrize("motion", [m for m in MOTIONS if m != "meet"])
def test_sampled_shapes_stay_in_frame(motion: str) -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        spec = sample_spec(rng, actors=1, motion=motion)
        actor, end = spec.actors[0], end_state(spec)[0]
        assert spec.background != actor.color
        for a in (actor, end):
            assert 0.1 <= a.x <= 0.9 and 0.1 <= a.y <= 0.9, (motion, a)
        if motion in DIRECTIONS:
            assert abs(end.x - actor.x) + abs(end.y - actor.y) == pytest.approx(SPEED)


def test_held_out_split_is_stable_and_respected() -> None:
    assert held_out("a red circle moves right on a green background") == held_out(
        "a red circle moves right on a green background"
    )
    rng = np.random.default_rng(1)
    train = [sample_spec(rng, split="train").caption() for _ in range(50)]
    evals = [sample_spec(rng, split="eval").caption() for _ in range(50)]
    assert not any(map(held_out, train)) and all(map(held_out, evals))


def test_prompts_take_the_storyboard_form() -> None:
    spec = ClipSpec((Actor("circle", "red"),), "up", "green")
    forms = {prompt_for(spec, np.random.default_rng(s)) for s in range(20)}
    assert forms == {
        "a red circle moves up on a green background.",
        "a red circle. a red circle moves up on a green background.",
    }
