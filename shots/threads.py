"""One lock for building models in this process.

diffusers and peft build models under accelerate's ``init_empty_weights``, which patches
torch's module construction *process-wide* while it runs: an open_clip scorer built in another
thread at that moment gets weights on the ``meta`` device ("Cannot copy out of meta tensor").
Every place that builds or loads weights (a pipeline, a LoRA, a scorer) holds this lock, so a
render's threads never build two models at once. It is re-entrant: a pipeline loader may load
its own parts under it.
"""

from __future__ import annotations

import threading

MODEL_BUILD = threading.RLock()
