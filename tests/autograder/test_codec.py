"""The wire format: plain data in, plain data out, everything else refused or marked."""

import json
import math

import numpy as np
import pytest
import torch

from autograder import codec


def roundtrip(value):
    return codec.loads(json.dumps(codec.encode(value), allow_nan=False))


def test_plain_values_keep_their_exact_types():
    value = {"a": 1, "b": 1.0, "c": True, "d": None, "e": "x", "f": [1, 2], "g": (3, 4.5), 7: "int key"}
    out = roundtrip(value)
    assert out == value
    assert type(out["a"]) is int and type(out["b"]) is float and type(out["g"]) is tuple and type(out["f"]) is list


def test_tensors_and_arrays_are_rebuilt_with_dtype_shape_and_grad_flag():
    t = torch.arange(6, dtype=torch.float32).reshape(2, 3).requires_grad_(True)
    out = roundtrip(t * 2)
    assert out.dtype == torch.float32 and out.shape == (2, 3) and out.requires_grad
    assert torch.equal(out.detach(), (t * 2).detach())
    arr = roundtrip(np.array([[1, 2], [3, 4]], dtype=np.int64))
    assert arr.dtype == np.int64 and arr.tolist() == [[1, 2], [3, 4]]
    assert roundtrip(np.float32(2.5)).dtype == np.float32


def test_nan_and_inf_survive_without_json_constants():
    out = roundtrip([float("nan"), float("inf"), -math.inf, torch.tensor([math.inf, math.nan])])
    assert math.isnan(out[0]) and out[1] == math.inf and out[2] == -math.inf
    assert torch.isinf(out[3][0]) and torch.isnan(out[3][1])


def test_unknown_objects_become_markers_even_with_hostile_methods():
    class AlwaysEqual(float):
        def __eq__(self, other):
            return True

        def __repr__(self):
            raise RuntimeError("no repr for you")

    out = roundtrip([AlwaysEqual(1.0), object()])
    assert all(isinstance(x, codec.Unsupported) for x in out)
    assert "AlwaysEqual" in out[0].type_name and out[0] != 1.0


@pytest.mark.parametrize(
    "data, message",
    [
        ({"$": "tensor", "dtype": "float32", "shape": [3], "data": [1.0]}, "does not match"),
        ({"$": "tensor", "dtype": "object", "shape": [1], "data": [1]}, "not allowed"),
        ({"$": "tensor", "dtype": "int64", "shape": [1], "data": [10**30]}, "out of range"),
        ({"$": "tensor", "dtype": "bool", "shape": [1], "data": [1]}, "non-bools"),
        ({"$": "dict", "items": [[{"$": "list", "items": []}, 1]]}, "dict key"),
        ({"$": "pickle", "data": "gASV"}, "unknown tag"),
        ({"no": "tag"}, "untagged"),
        ({"$": "float", "v": "1e999"}, "bad float"),
    ],
)
def test_malformed_data_is_rejected_with_a_reason(data, message):
    with pytest.raises(codec.WireError, match=message):
        codec.decode(data)


def test_json_constants_depth_and_size_are_bounded():
    with pytest.raises(codec.WireError, match="constant"):
        codec.loads('{"x": NaN}')
    deep = {"$": "list", "items": []}
    for _ in range(codec.MAX_DEPTH + 5):
        deep = {"$": "list", "items": [deep]}
    with pytest.raises(codec.WireError, match="deeper"):
        codec.decode(deep)
    big = {
        "$": "tensor",
        "dtype": "float32",
        "shape": [codec.MAX_ELEMENTS + 1],
        "data": [0.0] * (codec.MAX_ELEMENTS + 1),
    }
    with pytest.raises(codec.WireError, match="more than"):
        codec.decode(big)
