"""Every error storyreel raises on purpose.

    StoryreelError                    base; the CLI prints "Error: message" and exits non-zero
    ├── StoryboardError               bad storyboard input (file, line, field)        exit 2
    ├── ConfigError                   bad settings / options / command-line values    exit 2
    ├── GenerationError               rendering failed                                exit 1
    │   ├── ModelLoadError            model dir missing, not a pipeline, unsupported  exit 2
    │   └── TransientGenerationError  worth retrying (CUDA OOM, a lost worker)        exit 1
    ├── ScoringError                  scoring failed or got unusable input            exit 1
    ├── StitchError                   ffmpeg failed; carries argv and stderr tail     exit 1
    └── StorageError                  the database or the artifact store              exit 1
        ├── NotFound                  unknown project / shot / take                   exit 2
        └── Conflict                  a state change that is not allowed              exit 1

Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Sequence


class StoryreelError(Exception):
    """Base of every error storyreel raises on purpose."""

    exit_code: int = 1


class StoryboardError(StoryreelError):
    """A storyboard that cannot be used, located as precisely as the format allows.

    Args:
        message: What is wrong and what is allowed.
        file: The storyboard file, when known.
        line: 1-based line in that file, when known.
        field: Dotted path of the offending field, e.g. ``shots.2.duration``.
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.field = field
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "") + ": "
        elif self.line:
            where = f"line {self.line}: "
        field = f"{self.field}: " if self.field else ""
        return f"{where}{field}{self.message}"


class ConfigError(StoryreelError):
    """A setting, option or command-line value that is not allowed."""

    exit_code = 2


class GenerationError(StoryreelError):
    """Rendering a take failed."""


class ModelLoadError(GenerationError):
    """A model directory is missing, is not a diffusers pipeline, or is unsupported."""

    exit_code = 2


class TransientGenerationError(GenerationError):
    """A failure worth retrying, e.g. CUDA out of memory."""


class ScoringError(StoryreelError):
    """Scoring a take failed or got input it cannot judge."""


class StitchError(StoryreelError):
    """ffmpeg failed, or produced something other than what was asked.

    Args:
        message: What went wrong.
        argv: The ffmpeg command line.
        stderr: ffmpeg's standard error; only its tail is kept.
    """

    def __init__(self, message: str, *, argv: Sequence[str] = (), stderr: str = "") -> None:
        self.argv = list(argv)
        self.stderr_tail = "\n".join(stderr.strip().splitlines()[-15:])
        text = message
        if self.stderr_tail:
            text += "\nffmpeg said:\n" + self.stderr_tail
        super().__init__(text)


class StorageError(StoryreelError):
    """The database or the artifact store failed."""


class NotFound(StorageError):
    """An unknown project, shot or take."""

    exit_code = 2


class Conflict(StorageError):
    """A state change that is not allowed (e.g. choosing another shot's take)."""
