"""Test-wide settings: one intra-op thread and passive OpenMP waiting.

Busy-waiting OpenMP threads make small models up to 100x slower when the 2 CI cores are shared with other
processes (measured while developing the GCN layers), and the tests' tensors are too small to gain from threads.
"""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read when torch initialises OpenMP: before `import torch`

import torch  # noqa: E402

torch.set_num_threads(1)
