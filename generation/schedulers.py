"""Schedulers a storyboard may ask for, built from the model's own scheduler config.

| name    | diffusers class                  | flow matching set up as                                    |
|---------|----------------------------------|------------------------------------------------------------|
| `unipc` | UniPCMultistepScheduler          | ``prediction_type="flow_prediction"``, flow sigmas, ``flow_shift`` |
| `euler` | FlowMatchEulerDiscreteScheduler  | ``shift``                                                  |
| `dpm++` | DPMSolverMultistepScheduler      | ``dpmsolver++``, flow prediction, flow sigmas, ``flow_shift`` |

Without ``flow_shift`` the model's own shift is kept (Wan's configs carry 3.0 for 480p, 5.0
for 720p). Step-distilled LoRAs name the scheduler and shift they were trained with.
"""

from __future__ import annotations

from typing import Any

SCHEDULERS = ("unipc", "euler", "dpm++")


def _own_shift(config: dict[str, Any]) -> float:
    return float(config.get("flow_shift") or config.get("shift") or 1.0)


def build_scheduler(current: Any, name: str, flow_shift: float | None) -> Any:
    """A scheduler ``name`` from ``current``'s config (the loaded model's)."""
    import diffusers

    config = dict(current.config)
    shift = flow_shift if flow_shift is not None else _own_shift(config)
    if name == "unipc":
        return diffusers.UniPCMultistepScheduler.from_config(config, prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=shift)
    if name == "euler":
        return diffusers.FlowMatchEulerDiscreteScheduler.from_config(config, shift=shift)
    if name == "dpm++":
        return diffusers.DPMSolverMultistepScheduler.from_config(config, prediction_type="flow_prediction", use_flow_sigmas=True,
                                                                 flow_shift=shift, algorithm_type="dpmsolver++")
    raise ValueError(f"scheduler {name!r} is not one of {', '.join(SCHEDULERS)}")


def use_scheduler(loaded: Any, pipe: Any, choice: tuple[str, float | None] | None) -> None:
    """Give ``pipe`` the scheduler ``choice`` (None: the model's own), built once per choice.

    Call under ``loaded.lock``: a scheduler keeps state during a call.
    """
    if choice is None:
        pipe.scheduler = loaded.schedulers.setdefault(None, loaded.pipe.scheduler)
        return
    if choice not in loaded.schedulers:
        loaded.schedulers.setdefault(None, loaded.pipe.scheduler)
        loaded.schedulers[choice] = build_scheduler(loaded.schedulers[None], *choice)
    pipe.scheduler = loaded.schedulers[choice]
