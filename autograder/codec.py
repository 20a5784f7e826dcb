"""Plain-data wire format between the trusted judge and the sandbox.

Values cross the sandbox boundary as JSON only; nothing is ever pickled. :func:`encode` turns
Python values, tensors and arrays into tagged JSON-able data; :func:`decode` rebuilds them on the
other side, checking every tag, dtype, shape and size, and builds tensors itself from flat lists.
A value of any other type is reported as ``Unsupported`` (its type name and a short repr), so an
object that "compares equal to everything" arrives as a harmless marker, not as the object.

Example:
    >>> import torch
    >>> wire = encode({"loss": torch.tensor([0.5, 1.0]), "ok": True, "n": 3})
    >>> value = decode(wire)
    >>> value["loss"].tolist(), value["ok"], type(value["n"]).__name__
    ([0.5, 1.0], True, 'int')
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np

try:  # the judge always has torch; the encoder tolerates its absence
    import torch
except ImportError:  # pragma: no cover
    torch = None

MAX_DEPTH = 32
MAX_ELEMENTS = 2_000_000  # numbers in all tensors of one value
DTYPES = ("float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool")


class WireError(ValueError):
    """Data from the sandbox that does not follow the wire format."""


@dataclass(frozen=True)
class Unsupported:
    """Stands for a returned object the wire format does not carry (its type and a short repr)."""

    type_name: str
    text: str

    def __repr__(self) -> str:
        return f"<unsupported {self.type_name}: {self.text}>"


def _float(x: float):
    if math.isnan(x):
        return {"$": "float", "v": "nan"}
    if math.isinf(x):
        return {"$": "float", "v": "inf" if x > 0 else "-inf"}
    return x


def _flat(values) -> list:
    return [_float(v) if isinstance(v, float) else v for v in values]


def encode(value, depth: int = 0):
    """Turn ``value`` into JSON-able tagged data (runs in the sandbox and in the judge)."""
    if depth > MAX_DEPTH:
        return {"$": "unsupported", "type": "too deep", "repr": ""}
    t = type(value)
    if value is None or t is bool or t is int or t is str:
        return value
    if t is float:
        return _float(value)
    if t in (list, tuple):
        return {"$": t.__name__, "items": [encode(v, depth + 1) for v in value]}
    if t is dict:
        return {"$": "dict", "items": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    if torch is not None and t in (torch.Tensor, torch.nn.Parameter):
        x = value.detach().cpu()
        dtype = str(x.dtype).replace("torch.", "")
        if x.dtype == torch.bfloat16:
            x = x.float()
        return {
            "$": "tensor",
            "dtype": dtype,
            "shape": list(x.shape),
            "data": _flat(x.reshape(-1).tolist()),
            "requires_grad": bool(value.requires_grad),
        }
    if t is np.ndarray:
        return {
            "$": "ndarray",
            "dtype": str(value.dtype),
            "shape": list(value.shape),
            "data": _flat(value.reshape(-1).tolist()),
        }
    if isinstance(value, np.generic) and t.__module__ == "numpy":
        return {"$": "npscalar", "dtype": str(value.dtype), "v": encode(value.item(), depth + 1)}
    try:
        text = repr(value)[:200]
    except Exception:  # a hostile __repr__
        text = "?"
    return {"$": "unsupported", "type": f"{t.__module__}.{t.__qualname__}"[:200], "repr": text}


def dumps(value) -> str:
    return json.dumps(encode(value), allow_nan=False, separators=(",", ":"))


# -- decoding (trusted side) -----------------------------------------------------------------


class _Budget:
    def __init__(self):
        self.left = MAX_ELEMENTS

    def take(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise WireError(f"value holds more than {MAX_ELEMENTS} numbers")


def _scalar(v, where: str):
    if isinstance(v, dict) and v.get("$") == "float" and set(v) == {"$", "v"}:
        if v["v"] not in ("nan", "inf", "-inf"):
            raise WireError(f"{where}: bad float {v['v']!r}")
        return float(v["v"])
    if v is None or type(v) in (bool, int, float):
        return v
    raise WireError(f"{where}: expected a number, got {type(v).__name__}")


def _array_parts(v: dict, budget: _Budget, where: str) -> tuple[str, list[int], list]:
    dtype, shape, data = v.get("dtype"), v.get("shape"), v.get("data")
    if dtype not in DTYPES:
        raise WireError(f"{where}: dtype {dtype!r} is not allowed")
    if not (isinstance(shape, list) and len(shape) <= 8 and all(type(s) is int and s >= 0 for s in shape)):
        raise WireError(f"{where}: bad shape {shape!r}")
    if not isinstance(data, list) or len(data) != math.prod(shape):
        raise WireError(f"{where}: shape {shape} does not match {len(data) if isinstance(data, list) else '?'} values")
    budget.take(len(data))
    values = [_scalar(x, where) for x in data]
    if dtype == "bool":
        if not all(type(x) is bool for x in values):
            raise WireError(f"{where}: bool array holds non-bools")
    elif dtype.startswith(("int", "uint")):
        if not all(type(x) is int and -(2**63) <= x < 2**64 for x in values):
            raise WireError(f"{where}: integer array holds non-integers or integers out of range")
    elif not all(type(x) in (int, float) for x in values):
        raise WireError(f"{where}: float array holds non-numbers")
    return dtype, shape, values


def _decode(v, depth: int, budget: _Budget, where: str):
    if depth > MAX_DEPTH:
        raise WireError(f"{where}: nested deeper than {MAX_DEPTH}")
    if v is None or type(v) in (bool, int, float, str):
        return v
    if not isinstance(v, dict) or "$" not in v:
        raise WireError(f"{where}: untagged {type(v).__name__}")
    tag = v["$"]
    if tag == "float":
        return _scalar(v, where)
    if tag in ("list", "tuple"):
        items = v.get("items")
        if not isinstance(items, list):
            raise WireError(f"{where}: {tag} without items")
        budget.take(len(items))
        out = [_decode(x, depth + 1, budget, f"{where}[{i}]") for i, x in enumerate(items)]
        return out if tag == "list" else tuple(out)
    if tag == "dict":
        items = v.get("items")
        if not isinstance(items, list) or not all(isinstance(kv, list) and len(kv) == 2 for kv in items):
            raise WireError(f"{where}: dict without [key, value] items")
        budget.take(len(items))
        out = {}
        for k, x in items:
            key = _decode(k, depth + 1, budget, where)
            if type(key) not in (str, int, float, bool) and key is not None:
                raise WireError(f"{where}: dict key of type {type(key).__name__}")
            out[key] = _decode(x, depth + 1, budget, f"{where}[{key!r}]")
        return out
    if tag == "tensor":
        dtype, shape, values = _array_parts(v, budget, where)
        t = torch.tensor(values, dtype=getattr(torch, dtype)).reshape(shape)
        if v.get("requires_grad") is True and t.is_floating_point():
            t.requires_grad_(True)
        return t
    if tag == "ndarray":
        dtype, shape, values = _array_parts(v, budget, where)
        return np.array(values, dtype="float32" if dtype == "bfloat16" else dtype).reshape(shape)
    if tag == "npscalar":
        dtype = v.get("dtype")
        if dtype not in DTYPES or dtype == "bfloat16":
            raise WireError(f"{where}: numpy scalar dtype {dtype!r} is not allowed")
        return np.array(_scalar(v.get("v"), where), dtype=dtype)[()]
    if tag == "unsupported":
        return Unsupported(str(v.get("type"))[:200], str(v.get("repr"))[:200])
    raise WireError(f"{where}: unknown tag {tag!r}")


def decode(data):
    """Rebuild a value from :func:`encode` output, trusting nothing about it (any failure is a WireError)."""
    try:
        return _decode(data, 0, _Budget(), "value")
    except WireError:
        raise
    except Exception as err:  # e.g. an integer too large for its dtype
        raise WireError(f"value: {type(err).__name__}: {str(err)[:200]}") from None


def loads(text: str | bytes):
    """Parse one JSON document from the sandbox and :func:`decode` it (no NaN literals, no pickles)."""

    def reject(name):
        raise WireError(f"JSON constant {name} is not allowed")

    try:
        return decode(json.loads(text, parse_constant=reject))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
        raise WireError(f"not valid JSON: {err}") from None
