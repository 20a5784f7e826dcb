"""What runs inside the sandbox: the student's cells, then the grader's probes.

The worker reads one job (JSON) from a pipe, builds the sandbox (:mod:`autograder.sandbox`), runs
the notebook's code cells in one namespace, then calls the student's functions on the probes'
inputs and writes one JSON line per event to the result pipe. Nothing here decides a grade: the
judge treats every line as untrusted data. The student's stdout and stderr go to a separate pipe.

Cells are run with ``exec`` after IPython's own input transformer turns magics into calls; the
``get_ipython()`` seen by student code is an inert stand-in, so hooks such as input transformers
change nothing.
"""

from __future__ import annotations

import builtins
import json
import os
import random
import signal
import sys
import textwrap
import time
import traceback

import numpy as np

from autograder import codec
from autograder.sandbox import SandboxConfig, SandboxError, enter_sandbox

SANDBOX_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "LANG": "C.UTF-8",
    "MPLBACKEND": "Agg",
    "MPLCONFIGDIR": "/tmp/matplotlib",
    "OMP_NUM_THREADS": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HOME": "/tmp/hf",
    "NBGRADER_EXECUTION": "",
}
EXIT_SETUP_ERROR = 70


class MissingName(LookupError):
    """The notebook does not define a name the grader needs."""


def need(ns: dict, name: str):
    """The student's object called ``name`` (drivers use this; a missing name is reported as such)."""
    if name not in ns:
        raise MissingName(name)
    return ns[name]


class ProbeTimeout(BaseException):
    """Raised by the alarm inside a probe that runs too long (a BaseException: harder to swallow)."""


class _Inert:
    """Stands in for IPython objects: every attribute and call returns itself and does nothing."""

    def __getattr__(self, name):
        return self

    def __call__(self, *args, **kwargs):
        return self

    def __iter__(self):
        return iter(())

    def __bool__(self):
        return False


def _transform(source: str) -> str:
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


class Emitter:
    def __init__(self, fd: int):
        self.fd = fd

    def __call__(self, **frame) -> None:
        data = (json.dumps(frame, allow_nan=False, separators=(",", ":")) + "\n").encode()
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]


def _describe(err: BaseException) -> dict:
    builtin_bases = [c.__name__ for c in type(err).__mro__ if c.__module__ == "builtins"]
    try:
        message = str(err)[:2000]
    except Exception:
        message = "<unprintable>"
    return {"exception": type(err).__name__[:100], "builtin_bases": builtin_bases[:20], "message": message}


def _short_traceback(err: BaseException) -> str:
    lines = traceback.format_exception(type(err), err, err.__traceback__)
    return "".join(lines[-6:])[-3000:]


def probe_key(probe: dict) -> str:
    """What a probe exercises: the student's function, or the driver's name."""
    return probe["function"] if probe["driver"] == "call" else probe["driver"]


def _reset_seeds() -> None:
    import torch

    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


def _call_driver(ns: dict, probe: dict):
    """The built-in driver: ``function(*args, **kwargs)``, with input gradients when asked."""
    import torch

    function = need(ns, probe["function"])
    args = list(codec.decode(probe["args"]))
    kwargs = codec.decode(probe["kwargs"])
    grad = probe.get("grad") or []
    for i in grad:
        args[i] = args[i].detach().clone().requires_grad_(True)
    value = function(*args, **kwargs)
    out = {"value": value}
    if grad:
        if type(value) is torch.Tensor and value.requires_grad:
            grad_output = codec.decode(probe["grad_output"]) if probe.get("grad_output") else torch.ones_like(value)
            grads = torch.autograd.grad(value, [args[i] for i in grad], grad_output, allow_unused=True)
            out["grads"] = list(grads)
        else:
            out["grads"] = None  # not differentiable
    return out


def _custom_drivers(sources: dict[str, str]) -> dict:
    import math

    import torch

    drivers = {}
    for name, source in sources.items():
        scope = {"torch": torch, "np": np, "math": math, "need": need, "__name__": "driver"}
        exec(compile(textwrap.dedent(source), f"<driver {name}>", "exec"), scope)
        drivers[name] = scope[name]
    return drivers


def _on_alarm(signum, frame):
    raise ProbeTimeout()


def execute(job: dict, emit: Emitter) -> None:
    """Run cells, then probes, emitting one frame per event."""
    import matplotlib

    matplotlib.use("Agg")
    import torch

    torch.set_num_threads(1)
    ns: dict = {"__name__": "__main__", "__builtins__": builtins, "get_ipython": _Inert()}
    for i, cell in enumerate(job["cells"]):
        emit(kind="cell_start", index=i)
        start = time.perf_counter()
        try:
            exec(compile(_transform(cell["source"]), f"<{cell['label']}>", "exec"), ns)
            emit(kind="cell", index=i, status="ok", seconds=time.perf_counter() - start)
        except BaseException as err:  # SystemExit and KeyboardInterrupt included
            emit(
                kind="cell",
                index=i,
                status="error",
                seconds=time.perf_counter() - start,
                error=_short_traceback(err),
                **_describe(err),
            )
    drivers = _custom_drivers(job.get("drivers", {}))
    # what student code prints while called on hidden inputs could echo them: it is discarded
    sys.stdout.flush()
    sys.stderr.flush()
    null = os.open("/dev/null", os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    os.close(null)
    signal.signal(signal.SIGALRM, _on_alarm)
    timed_out: set[str] = set()  # after one call of a function overruns, skip its other calls
    for probe in job["probes"]:
        key = probe_key(probe)
        emit(kind="probe_start", id=probe["id"])
        start = time.perf_counter()
        frame = {"kind": "probe", "id": probe["id"]}
        if key in timed_out:
            emit(**frame, status="timeout", message=f"an earlier call of {key} ran past its time limit", seconds=0.0)
            continue
        try:
            _reset_seeds()
            signal.setitimer(signal.ITIMER_REAL, float(probe["timeout"]))
            try:
                if probe["driver"] == "call":
                    out = _call_driver(ns, probe)
                else:
                    driver = drivers[probe["driver"]]
                    out = {"value": driver(ns, *codec.decode(probe["args"]), **codec.decode(probe["kwargs"]))}
                frame.update(status="returned", value=codec.encode(out["value"]))  # a hostile repr is timed too
                if "grads" in out:
                    frame["grads"] = codec.encode(out["grads"])
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except ProbeTimeout:
            frame = {"kind": "probe", "id": probe["id"], "status": "timeout"}
            timed_out.add(key)
        except MissingName as err:
            frame.update(status="missing", name=str(err)[:200])
        except BaseException as err:
            frame = {"kind": "probe", "id": probe["id"], "status": "raised", **_describe(err)}
        frame["seconds"] = time.perf_counter() - start
        emit(**frame)
    emit(kind="done")


def run(job_fd: int, result_fd: int, output_fd: int) -> None:
    """Entry point in the worker (pid 2, under the trusted init): read the job, lock down, execute, exit."""
    emit = Emitter(result_fd)
    with os.fdopen(job_fd, "rb") as f:
        job = json.loads(f.read())
    try:
        enter_sandbox(SandboxConfig.from_dict(job["sandbox"]))
    except (SandboxError, OSError) as err:
        emit(kind="setup_error", message=str(err))
        os._exit(EXIT_SETUP_ERROR)
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    os.closerange(3, result_fd)
    os.closerange(result_fd + 1, 65536)
    os.environ.clear()
    os.environ.update(SANDBOX_ENV)
    os.chdir("/tmp")
    sys.argv = ["notebook"]
    execute(job, emit)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
