"""Loaded by a `storyreel` process a test starts with this folder on PYTHONPATH and
``STORYREEL_TEST_GATE`` set: the model's first layer waits until that file exists, so the test
acts while the process is mid-take, however busy the machine is (no timing involved)."""

import os

_GATE = os.environ.get("STORYREEL_TEST_GATE")

if _GATE:
    import time

    import torch

    def _wait(module, args):  # type: ignore[no-untyped-def]
        while not os.path.exists(_GATE):
            time.sleep(0.05)

    torch.nn.modules.module.register_module_forward_pre_hook(_wait)
