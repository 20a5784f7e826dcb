"""Shared setup of the course_lib tests.

The tiny models are too small to gain from a second thread, and on a shared, busy CPU two OpenMP
threads wait on each other at every barrier: a training step measured 0.1 s on one thread and 1.7 s
on two. The tests therefore run torch on one thread and give the setting back afterwards.
"""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
