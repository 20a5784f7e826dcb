"""``dask worker ADDRESS --preload autograder.dask_preload``: import the graders' libraries as the worker starts.

Optional. Without it, the first batch on a new cluster imports them (torch, pytest, the judge) in every
worker while the worker also starts its zygote, seconds of CPU per worker; with it they are loaded
once, when the cluster starts, and later batches find them loaded either way. It imports nothing of a
course: graders and ``course_lib`` come with the batch (:mod:`autograder.dask_backend`).
"""

from __future__ import annotations


def dask_setup(worker) -> None:
    """Dask's preload hook: runs in each worker process as it starts (and again after a restart)."""
    import autograder.dask_backend  # noqa: F401  (the plugin's module)
    import autograder.probes  # noqa: F401  (torch)
    import autograder.service  # noqa: F401  (pytest, the sandbox runner)
