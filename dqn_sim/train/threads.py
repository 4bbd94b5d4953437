"""One core per training process: torch's thread pool and numpy's BLAS pool (OpenBLAS) each get one thread.

More threads only contend on a shared machine (the web server, a browser, other jobs). Torch's setting alone left
numpy's BLAS starting a thread per core: the linear bandits' matrix products then spun threads against the other
training process, LinUCB on recsim-ie ran at 526 user-steps/s under load instead of ~1,800 with one BLAS thread.
"""

from __future__ import annotations

import torch
from threadpoolctl import threadpool_limits


def one_thread() -> None:
    """Limit this process to one thread of computation (for its lifetime, as a training process wants)."""
    torch.set_num_threads(1)
    threadpool_limits(limits=1, user_api="blas")
