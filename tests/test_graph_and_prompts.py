"""Prompt composition, frame rounding and the shot graph."""

from __future__ import annotations

from shots import compose_prompt, load_storyboard, plan_storyboard, take_seed
from shots.families import FAMILIES, TINY_SPEC, family_of_index, spec_for_model
from shots.models import Storyboard
from tests.conftest import DEMO


def _board(**extra: object) -> Storyboard:
    data = {
        "title": "t",
        "style": "film  noir,   35mm",
        "characters": {"ana": {"description": "a woman in a red coat"}, "bo": {"description": "a dog"}},
        "scenes": [
            {"id": "one", "shots": [
                {"id": "a", "prompt": "Ana walks", "characters": ["ana", "bo"], "camera": "dolly in"},
                {"id": "b", "prompt": "Ana stops", "negative_prompt": "blur"},
                {"id": "c", "prompt": "Ana waves", "continuity": "cut", "duration": 1},
            ]},
            {"id": "two", "shots": [
                {"id": "d", "prompt": "A street", "continuity": "continue"},
                {"id": "e", "prompt": "A car"},
            ]},
        ],
    }
    data.update(extra)
    return Storyboard.model_validate(data)


def test_prompt_is_style_characters_prompt_camera_and_deterministic() -> None:
    board = _board(settings={"negative_prompt": "low quality"})
    a = compose_prompt(board, board.shot("a"), budget=512)
    assert a.prompt == "film noir, 35mm. a woman in a red coat. a dog. Ana walks. Camera: dolly in."
    assert a.negative_prompt == "low quality"
    assert compose_prompt(board, board.shot("b"), 512).negative_prompt == "blur"
    assert compose_prompt(_board(settings={"negative_prompt": "low quality"}), board.shot("a"), 512) == a
    assert a.warning is None


def test_prompt_warns_past_the_text_budget() -> None:
    board = _board(style="cinematic " * 100)
    composed = compose_prompt(board, board.shot("a"), budget=64)
    assert composed.tokens > 64
    assert composed.warning is not None and "64" in composed.warning


def test_chains_conditioning_and_downstream() -> None:
    graph = plan_storyboard(_board())
    assert graph.chains == (("a", "b"), ("c", "d", "e"))
    by_id = {s.id: s for s in graph.shots}
    assert by_id["a"].conditioned_on is None and by_id["a"].keyframe == "t2i"  # the world draws it
    assert by_id["b"].conditioned_on == "a" and by_id["b"].keyframe == "previous"
    assert by_id["c"].conditioned_on is None  # explicit cut inside a scene
    assert by_id["d"].conditioned_on == "c"  # explicit continue across scenes
    assert by_id["e"].conditioned_on == "d"
    assert graph.downstream("c") == ["d", "e"]
    assert graph.downstream("e") == []
    assert graph.downstream("a") == ["b"]


def test_reference_keyframe_and_t2i_fallback() -> None:
    board = _board(characters={"ana": {"description": "x"}, "bo": {"description": "y", "reference": "bo.png"}})
    graph = plan_storyboard(board)
    assert (graph.shot("a").keyframe, graph.shot("a").reference) == ("reference", "bo.png")
    assert graph.shot("c").keyframe == "t2i"  # the embedded model's world keyframe
    assert plan_storyboard(_board(settings={"t2i_model": "/m/sdxl"})).shot("c").keyframe == "t2i"


def test_start_frames_are_named_for_what_each_family_can_do() -> None:
    """A cut shot without a reference starts from text only where the family has a text mode;
    elsewhere the plan says it starts from a neutral frame, instead of claiming text-to-video."""
    starts = {
        model: plan_storyboard(_board(settings={"model": model})).shot("c").keyframe
        for model in ("Lightricks/LTX-Video", "Wan-AI/Wan2.2-TI2V-5B", "/m/wan2.1-i2v-14b", "THUDM/CogVideoX-5b-I2V")
    }
    assert starts == {"Lightricks/LTX-Video": "t2v", "Wan-AI/Wan2.2-TI2V-5B": "t2v", "/m/wan2.1-i2v-14b": "neutral",
                      "THUDM/CogVideoX-5b-I2V": "neutral"}
    assert plan_storyboard(_board(settings={"model": "/m/wan", "t2i_model": "/m/sdxl"})).shot("c").keyframe == "t2i"


def test_frames_follow_each_family_rule() -> None:
    wan, ltx = FAMILIES["wan"], FAMILIES["ltx"]
    assert wan.frames_for(5.0, 16) == 81  # Wan 2.1's native 81 frames
    assert wan.frames_for(3.0, 16) == 49
    assert wan.frames_for(0.01, 16) == 5  # rounded up here; validate refuses it (duration_problem)
    assert wan.duration_problem(0.01, 16) is not None and wan.duration_problem(0.3, 16) is None
    assert "at most 49 frames (6.12 s)" in FAMILIES["cogvideox"].duration_problem(10, 8)
    assert ltx.frames_for(5.0, 24) == 121
    assert FAMILIES["cogvideox"].frames_for(10, 8) == 49  # capped at the trained length
    for spec in FAMILIES.values():
        for seconds in (0.3, 1, 2.5, 4.2):
            frames = spec.frames_for(seconds, spec.default_fps)
            spec.check_frames(frames)


def test_demo_plan_total_frames_subtract_crossfade() -> None:
    graph = plan_storyboard(load_storyboard(DEMO))
    assert graph.spec == TINY_SPEC
    overlap = sum(round(s.transition_seconds * s.fps) for s in graph.shots)
    assert overlap == 2  # one 0.5 s crossfade at 4 fps
    assert graph.total_frames == sum(s.frames for s in graph.shots) - 2 == 34


def test_seeds_are_stable_per_shot_id_and_schedule_is_deterministic() -> None:
    one = plan_storyboard(_board(settings={"seed": 5}))
    two = plan_storyboard(_board(settings={"seed": 5}))
    assert [s.seed for s in one.shots] == [s.seed for s in two.shots]
    assert len({s.seed for s in one.shots}) == 5
    assert plan_storyboard(_board(settings={"seed": 6})).shot("a").seed != one.shot("a").seed
    assert [take_seed(10, n) for n in range(3)] == [10, 1_000_013, 2_000_016]
    assert take_seed(2**32 - 1, 1) < 2**32


def test_family_detection_from_model_index(tmp_path) -> None:
    assert family_of_index({"_class_name": "WanImageToVideoPipeline", "transformer_2": [None, None]}) == "wan"
    assert family_of_index({"_class_name": "WanImageToVideoPipeline", "transformer_2": ["diffusers", "WanTransformer3DModel"]}) == "wan22"
    assert family_of_index({"_class_name": "WanImageToVideoPipeline", "expand_timesteps": True}) == "wan22_ti2v"
    assert family_of_index({"_class_name": "LTXImageToVideoPipeline"}) == "ltx"
    assert family_of_index({"_class_name": "StableDiffusionPipeline"}) is None
    (tmp_path / "model_index.json").write_text('{"_class_name": "CogVideoXImageToVideoPipeline"}')
    assert spec_for_model(str(tmp_path)).name == "cogvideox"
    assert spec_for_model("Lightricks/LTX-Video").name == "ltx"
