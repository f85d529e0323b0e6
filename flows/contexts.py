"""A job's render context in this process, with what flows own: the settings read from the
environment (a worker's own home) and the GPU slot that bounds processes too."""

from __future__ import annotations

from flows.settings import job_settings
from flows.slots import gpu_slot
from production.context import RenderContext, RenderJob, context_for


def render_context(job: RenderJob) -> RenderContext:
    """`production.context.context_for` with this process's settings and GPU slot."""
    return context_for(job, job_settings(job), gpu_slot)
