"""Loaded by a `storyreel` process a test starts with this folder on PYTHONPATH and
``STORYREEL_TEST_GATE`` set: the model's first layer waits until that file exists, so the test
acts while the process is mid-take, however busy the machine is (no timing involved). While it
waits, ``<gate>.reached`` exists: the test knows the take is inside the model. A stop asked
for (a signal) opens the gate too: the take goes on to the model's own stop check."""

import os
import sys

_GATE = os.environ.get("STORYREEL_TEST_GATE")

if _GATE:
    import time

    import torch

    def _wait(module, args):  # type: ignore[no-untyped-def]
        if os.path.exists(_GATE):
            return
        open(_GATE + ".reached", "w").close()
        while not os.path.exists(_GATE):
            stop = sys.modules.get("production.stop")
            if stop is not None and stop.stop_requested():
                return
            time.sleep(0.05)

    torch.nn.modules.module.register_module_forward_pre_hook(_wait)
