"""The storyboard domain: models, parsers, prompts, the shot graph. No torch, no Prefect."""

from shots.errors import StoryboardError, StoryreelError
from shots.graph import PlannedShot, ShotGraph, plan_storyboard, take_seed
from shots.loading import load_storyboard
from shots.models import Shot, Storyboard
from shots.prompts import ComposedPrompt, compose_prompt

__all__ = [
    "ComposedPrompt",
    "PlannedShot",
    "Shot",
    "ShotGraph",
    "Storyboard",
    "StoryboardError",
    "StoryreelError",
    "compose_prompt",
    "load_storyboard",
    "plan_storyboard",
    "take_seed",
]
