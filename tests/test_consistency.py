"""Consistency metrics on synthetic clips with known ground truth (tiny random open_clip)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from consistency.color import match_color
from consistency.embedder import load_embedder
from consistency import metrics
from consistency.metrics import color_distance, flicker
from consistency.policy import (
    DEFAULT_THRESHOLDS,
    Outcome,
    RerollPolicy,
    TakeScores,
    choose,
    judge,
    resolve_thresholds,
)
from consistency.scoring import score_take
from generation.world import Actor, ClipSpec, end_state, render_clip
from consistency.identity import CharacterAnchor, anchor_from_frame
from shots.errors import ModelLoadError, ScoringError
from shots.graph import take_seed

RED_CIRCLE = ClipSpec((Actor("circle", "red", 0.3, 0.5),), "right", "green")
BLUE_SQUARE = ClipSpec((Actor("square", "blue", 0.7, 0.4),), "down", "yellow")


def _anchor(embedder, frame: np.ndarray, description: str = "a red circle") -> CharacterAnchor:  # type: ignore[no-untyped-def]
    made = anchor_from_frame(embedder, frame, description)
    return CharacterAnchor("red", "0" * 64, made.image, made.embedding)


def test_identical_frames_score_one(tiny_clip) -> None:
    frame = render_clip(RED_CIRCLE, 1)[0]
    still = np.repeat(frame[None], 9, axis=0)
    scores = {s.metric: s for s in score_take(tiny_clip, still, "a red circle", anchors=[_anchor(tiny_clip, frame)], condition=frame, scene_anchor=frame).scores}
    for metric in ("temporal", "identity", "boundary", "flicker"):
        assert scores[metric].value == pytest.approx(1.0, abs=1e-5), metric
    assert scores["color_drift"].value == pytest.approx(0.0, abs=1e-6)
    assert scores["temporal"].details["worst_drop_depth"] == pytest.approx(0.0, abs=1e-5)


@pytest.mark.parametrize("k", [5, 9, 13])
def test_hard_cut_is_found_and_fails_temporal(tiny_clip, k: int) -> None:
    smooth = render_clip(RED_CIRCLE, 17)
    cut = np.concatenate([smooth[:k], render_clip(BLUE_SQUARE, 17 - k)])
    good = score_take(tiny_clip, smooth, "a red circle moves right")
    bad = score_take(tiny_clip, cut, "a red circle moves right")
    t_good = next(s for s in good.scores if s.metric == "temporal")
    t_bad = next(s for s in bad.scores if s.metric == "temporal")
    assert t_bad.details["worst_drop_frame"] == k
    assert t_bad.passed is False and t_good.passed is True
    assert "temporal" in bad.failures()


def test_other_scene_scores_lower_identity_and_boundary_than_a_continuation(tiny_clip) -> None:
    first = render_clip(RED_CIRCLE, 17)
    handoff = first[-1]
    continuation = render_clip(ClipSpec(end_state(RED_CIRCLE), "up", "green"), 17)
    other = render_clip(BLUE_SQUARE, 17)
    ref = render_clip(RED_CIRCLE, 1)[0]

    def metric(frames: np.ndarray, name: str) -> float:
        scores = score_take(tiny_clip, frames, "a red circle", anchors=[_anchor(tiny_clip, ref)], condition=handoff)
        return next(s.value for s in scores.scores if s.metric == name)

    assert metric(continuation, "identity") > metric(other, "identity")
    assert metric(continuation, "boundary") > metric(other, "boundary")


def test_flicker_and_noise_score_lower_than_smooth() -> None:
    smooth = render_clip(RED_CIRCLE, 17)
    flickering = smooth.copy()
    flickering[::2] = (flickering[::2].astype(int) * 0.6).astype(np.uint8)
    noisy = np.clip(smooth.astype(int) + np.random.default_rng(0).integers(-40, 40, smooth.shape), 0, 255).astype(np.uint8)
    assert flicker(smooth) > flicker(flickering)
    assert flicker(smooth) > flicker(noisy)


def test_color_match_reduces_drift_on_a_tinted_take() -> None:
    anchor = render_clip(RED_CIRCLE, 1)[0]
    take = render_clip(ClipSpec(end_state(RED_CIRCLE), "up", "green"), 17)
    tinted = np.clip(take.astype(int) * np.array([1.25, 0.85, 1.1]) + np.array([10, 0, 25]), 0, 255).astype(np.uint8)
    before = color_distance(tinted, anchor)
    matched = match_color(tinted, anchor)
    after = color_distance(matched, anchor)
    assert before > 10 and after < before / 4
    assert matched.shape == tinted.shape and matched.dtype == np.uint8
    assert np.abs(match_color(tinted, anchor, strength=0.0).astype(int) - tinted).max() <= 1  # LAB round trip
    # one transform for the whole clip: matching adds no flicker
    assert abs(flicker(matched) - flicker(tinted)) < 0.02


def test_policy_rerolls_with_next_seed_and_stops_at_max_takes() -> None:
    calls: list[tuple[int, int]] = []

    def failing(attempt: int, seed: int) -> Outcome:
        calls.append((attempt, seed))
        value = [0.5, 0.8, 0.7][attempt - 1]
        return Outcome(attempt, seed, TakeScores((judge("temporal", value, 0.99),)))

    outcomes, chosen = RerollPolicy(max_takes=3).run(100, failing)
    assert calls == [(1, take_seed(100, 0)), (2, take_seed(100, 1)), (3, take_seed(100, 2))]
    assert chosen is not None and chosen[0].attempt == 2 and chosen[1] == "best_of_failed"
    # deterministic: the same outcomes choose the same take, whatever their order
    assert choose(list(reversed(outcomes))) == chosen

    def passes_second(attempt: int, seed: int) -> Outcome:
        return Outcome(attempt, seed, TakeScores((judge("temporal", 0.5 + 0.45 * (attempt > 1), 0.9),)))

    outcomes, chosen = RerollPolicy(max_takes=5).run(7, passes_second)
    assert len(outcomes) == 2 and chosen is not None and chosen == (outcomes[1], "passed")
    # resuming with attempts already made continues the schedule, and counts them
    outcomes, _ = RerollPolicy(max_takes=3).run(100, failing, done=outcomes[:1])
    assert [o.attempt for o in outcomes] == [1, 2, 3]


def test_ties_go_to_the_earliest_take_and_errors_are_skipped() -> None:
    same = TakeScores((judge("temporal", 0.5, 0.9),))
    outcomes = [Outcome(1, 1, None, "boom"), Outcome(2, 2, same), Outcome(3, 3, same)]
    assert choose(outcomes) == (outcomes[1], "best_of_failed")
    assert choose([Outcome(1, 1, None, "boom")]) is None


def test_thresholds_overrides_and_unknown_metrics() -> None:
    merged = resolve_thresholds({"prompt": None}, {"temporal": 0.5})
    assert merged["prompt"] is None and merged["temporal"] == 0.5 and merged["identity"] == DEFAULT_THRESHOLDS["identity"]
    assert judge("color_drift", 5.0, 10.0).passed is True and judge("color_drift", 15.0, 10.0).passed is False
    assert judge("prompt", 0.1, None).passed is None
    with pytest.raises(ScoringError, match="unknown metric 'beauty'"):
        resolve_thresholds({"beauty": 0.2})


@pytest.mark.parametrize(
    ("frames", "needle"),
    [
        (np.zeros((0, 8, 8, 3), np.uint8), "non-empty"),
        (np.zeros((4, 8, 8, 3), np.float32), "uint8"),
        (np.zeros((4, 8, 8), np.uint8), "(F, H, W, 3)"),
        ([[0]], "numpy array"),
    ],
)
def test_bad_frames_are_clear_errors(tiny_clip, frames: object, needle: str) -> None:
    with pytest.raises(ScoringError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        score_take(tiny_clip, frames, "x")  # type: ignore[arg-type]


def test_bad_conditioning_frame_is_a_clear_error(tiny_clip) -> None:
    clip = render_clip(RED_CIRCLE, 5)
    with pytest.raises(ScoringError, match="conditioning frame"):
        score_take(tiny_clip, clip, "x", condition=np.zeros((8, 8), np.uint8))


def test_batched_preprocessing_matches_frame_by_frame(tiny_clip) -> None:
    clip = render_clip(RED_CIRCLE, 49)
    batched = tiny_clip.embed_images(clip)
    single = np.concatenate([tiny_clip.embed_images(f[None]) for f in clip[:5]])
    assert batched.shape == (49, 64)
    np.testing.assert_allclose(batched[:5], single, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)


def test_missing_scorer_weights_fail_at_once(tmp_path: Path) -> None:
    start = time.perf_counter()
    with pytest.raises(ModelLoadError, match="HF_HUB_OFFLINE=1"):
        load_embedder("ViT-B-32:laion2b_s34b_b79k")
    assert time.perf_counter() - start < 5
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_embedder(f"ViT-B-32:{tmp_path / 'none.safetensors'}")
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_embedder(f"local-dir:{tmp_path / 'none'}")
    with pytest.raises(ModelLoadError, match="needs weights"):
        load_embedder("ViT-B-32")


@pytest.mark.slow
def test_vit_b_32_loads_from_a_local_checkpoint_file(tmp_path: Path) -> None:
    import open_clip
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32", pretrained=None)
    path = tmp_path / "vit-b-32.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, path)
    embedder = load_embedder(f"ViT-B-32:{path}")
    assert embedder.image_size == 224
    smooth = render_clip(RED_CIRCLE, 17)
    cut = np.concatenate([smooth[:9], render_clip(BLUE_SQUARE, 8)])
    t = next(s for s in score_take(embedder, cut, "a red circle").scores if s.metric == "temporal")
    assert t.details["worst_drop_frame"] == 9
    first = torch.nn.functional.normalize(model.eval().encode_image(torch.zeros(1, 3, 224, 224)), dim=-1)
    assert first.shape == (1, 512)


def test_motion_at_a_join_goes_on_turns_or_stops() -> None:
    from consistency.motion import motion_continuity

    before = ClipSpec((Actor("circle", "red", 0.3, 0.5),), "right", "black")
    first = render_clip(before, 9)

    def after(motion: str) -> float:
        return motion_continuity(first, render_clip(ClipSpec(end_state(before), motion, "black"), 9)).score

    assert after("right") == pytest.approx(1.0, abs=0.05)
    assert after("up") == pytest.approx(0.5, abs=0.05) and after("down") == pytest.approx(0.5, abs=0.05)
    assert after("left") < 0.05 and after("grows") < 0.05  # turns back; stops
    still = np.repeat(first[-1:], 9, axis=0)
    assert motion_continuity(still, still).score == 1.0  # stillness carries on
    scores = {s.metric: s for s in score_take(make_embedder(), first, "x", previous=first).scores}
    assert scores["motion"].details["before"] == scores["motion"].details["after"]


def make_embedder():  # type: ignore[no-untyped-def]
    from consistency.embedder import load_embedder
    from generation.tiny import trained_scorer

    return load_embedder(f"local-dir:{trained_scorer()}")


def test_identity_judges_the_character_not_the_scene(benchmark_module) -> None:
    """With the embedded scorer, on held-out world pairs (benchmarks/identity.py's cases), each
    kind of pair on its own: the same shape and colour on another background scores at or
    above the identity threshold in at least 90 % of pairs, another colour below in 90 %, and
    another shape — the hardest, 88 % in the benchmark — below in 85 %; whole frames put the
    same character above it in a tenth at most."""
    from consistency.identity import anchor_from_frame, identity_scores
    from consistency.policy import DEFAULT_THRESHOLDS

    bench = benchmark_module("identity")
    embedder = make_embedder()
    threshold = DEFAULT_THRESHOLDS["identity"]
    right: dict[str, list[bool]] = {"same": [], "colour": [], "shape": []}
    whole_same = []
    for case in bench.cases(30):
        frame = case["anchor"][len(case["anchor"]) // 2]
        anchor = anchor_from_frame(embedder, frame, case["description"]).embedding
        for kind, scores in right.items():
            score = identity_scores(embedder, case[kind], [anchor])[0]
            scores.append(score >= threshold if kind == "same" else score < threshold)
        whole_same.append(metrics.identity(embedder.embed_images(case["same"]), embedder.embed_images(frame[None])) >= threshold)
    rates = {kind: float(np.mean(v)) for kind, v in right.items()}
    assert rates["same"] >= 0.9 and rates["colour"] >= 0.9 and rates["shape"] >= 0.85, rates
    assert np.mean(whole_same) <= 0.1
