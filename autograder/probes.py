"""The API hidden graders are written in: probes that run in the sandbox, tests that judge outside it.

A grader is an ordinary pytest module. At module level it declares *probes*: calls into the
student's notebook, with the grader's inputs. The autograder runs every probe in the sandbox and
gives the tests only what came back, as plain data, through the ``student`` fixture::

    from autograder.probes import call, points

    typical = call("bradley_terry_loss", torch.tensor([2.0]), torch.tensor([0.5]))

    @points(1, cell="test_bradley_terry_loss")
    def test_typical(student):
        got = student[typical].tensor()          # fails with a clear message unless a tensor came back
        assert torch.allclose(got, expected)

Expected values are computed here, in the judge, and never enter the sandbox. ``@driver``
functions are the exception that proves the rule: their *source* is sent into the sandbox to
exercise objects (classes, modules) that a plain call cannot; they must only compute the
student's outputs, never expected ones.
"""

from __future__ import annotations

import inspect
import textwrap
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

from autograder import codec

DEFAULT_TIMEOUT = 10.0  # seconds per probe
STATUSES = ("returned", "raised", "missing", "timeout", "crashed", "not_run")


@dataclass
class Probe:
    """One call into the student's code. ``name`` is filled in from the grader module's globals."""

    driver: str  # "call" or the name of a @driver function
    function: str | None
    args: tuple
    kwargs: dict
    grad: tuple[int, ...] = ()  # positional tensor arguments to differentiate with respect to
    grad_output: object = None
    timeout: float = DEFAULT_TIMEOUT
    name: str = ""

    def spec(self, probe_id: int) -> dict:
        return {
            "id": probe_id,
            "name": self.name,
            "driver": self.driver,
            "function": self.function,
            "args": codec.encode(tuple(self.args)),
            "kwargs": codec.encode(dict(self.kwargs)),
            "grad": list(self.grad),
            "grad_output": None if self.grad_output is None else codec.encode(self.grad_output),
            "timeout": float(self.timeout),
            "label": self.describe(),
        }

    def describe(self) -> str:
        if self.driver != "call":
            return f"{self.driver}(...)"
        return f"{self.function}(...)"


def call(
    function: str, *args, grad: tuple[int, ...] = (), grad_output=None, timeout: float = DEFAULT_TIMEOUT, **kwargs
) -> Probe:
    """Probe ``function(*args, **kwargs)``; with ``grad=(0, 1)`` also return d(sum of output)/d(args)."""
    return Probe("call", function, args, kwargs, tuple(grad), grad_output, timeout)


@dataclass
class Driver:
    """A sandbox-side procedure (its source runs in the sandbox): ``fn(ns, *args, **kwargs) -> data``."""

    name: str
    source: str

    def probe(self, *args, timeout: float = DEFAULT_TIMEOUT, **kwargs) -> Probe:
        return Probe(self.name, None, args, kwargs, timeout=timeout)


def module_probes(module) -> list[Probe]:
    """Name and list a grader's probes: module-level names, or items of module-level lists/tuples/dicts.

    ``loss = call(...)`` is the probe ``loss``; ``checks = [call(...), ...]`` gives ``checks[0]``, ...;
    ``by_kind = {"slip": call(...)}`` gives ``by_kind['slip']``.
    """

    def walk(name: str, value, depth: int) -> list[Probe]:
        if isinstance(value, Probe):
            value.name = name
            return [value]
        if depth < 3 and isinstance(value, (list, tuple)):
            return [p for i, v in enumerate(value) for p in walk(f"{name}[{i}]", v, depth + 1)]
        if depth < 3 and isinstance(value, dict):
            return [p for k, v in value.items() for p in walk(f"{name}[{k!r}]", v, depth + 1)]
        return []

    return [p for attr, value in vars(module).items() if not attr.startswith("__") for p in walk(attr, value, 0)]


def driver(fn) -> Driver:
    """Mark ``fn(ns, ...)`` as a sandbox driver. It may use ``torch``, ``np``, ``math`` and ``need(ns, name)``."""
    source = textwrap.dedent(inspect.getsource(fn))
    source = "\n".join(line for line in source.splitlines() if not line.startswith("@"))
    return Driver(fn.__name__, source)


def points(n: float, cell: str):
    """Give a test ``n`` points, counted toward the notebook's autograder cell ``cell`` (its grade_id)."""
    if n <= 0:
        raise ValueError(f"points must be > 0, got {n}")
    return pytest.mark.points(n, cell=cell)


# -- what the tests see ------------------------------------------------------------------------


class StudentFailure(AssertionError):
    """The student's code did not return a usable value (it raised, timed out, or is missing)."""


@dataclass
class Outcome:
    """What came back from one probe: decoded plain data, never a live object."""

    probe: str
    status: str
    value: object = None
    grads: object = None
    exception: str | None = None
    builtin_bases: list[str] = field(default_factory=list)
    message: str = ""
    seconds: float = 0.0

    def _fail(self, what: str) -> StudentFailure:
        if self.status == "raised":  # the student's message can echo hidden inputs: only its type is shown
            return StudentFailure(f"{self.probe} raised {self.exception}")
        if self.status == "missing":
            return StudentFailure(f"the notebook does not define {self.message[:100] or 'the function under test'}")
        if self.status == "timeout":
            return StudentFailure(f"{self.probe} ran longer than its time limit")
        if self.status in ("crashed", "not_run"):
            return StudentFailure(f"{self.probe} did not run: {self.message}")
        return StudentFailure(f"{self.probe} {what}")

    def returned(self):
        """The returned value (decoded), or a failure explaining why there is none."""
        if self.status != "returned":
            raise self._fail("returned nothing")
        if isinstance(self.value, codec.Unsupported):
            raise StudentFailure(
                f"{self.probe} returned an object of type {self.value.type_name}, which is not plain data"
            )
        return self.value

    def of_type(self, *types):
        """The returned value if its type is exactly one of ``types`` (no subclasses)."""
        value = self.returned()
        if type(value) not in types:
            names = " or ".join(t.__name__ for t in types)
            raise StudentFailure(f"{self.probe} returned {type(value).__name__}, expected {names}")
        return value

    def gradients(self):
        """Input gradients the sandbox computed (for probes made with ``grad=``), or a failure."""
        self.returned()
        if self.grads is None:
            raise StudentFailure(
                f"{self.probe} is not differentiable: its result has no gradient with respect to the inputs"
            )
        return self.grads

    def tensor(self) -> torch.Tensor:
        return self.of_type(torch.Tensor)

    def float(self) -> float:
        return self.of_type(float)

    def raises(self, name: str) -> bool:
        """True when the call raised the built-in exception ``name`` (or a subclass of it)."""
        return self.status == "raised" and name in self.builtin_bases


def to_tensor(value) -> torch.Tensor:
    """Tensors, arrays and (nested) lists of numbers from decoded data, as a float64 tensor."""
    if isinstance(value, torch.Tensor):
        return value.detach().to(torch.float64)
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.astype(np.float64))
    return torch.tensor(value, dtype=torch.float64)
