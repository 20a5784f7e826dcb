"""The judge's reading of result frames (autograder/channel.py): what it parses, what it keeps."""

import pytest

from autograder.channel import _expected, _parse_frame


@pytest.mark.parametrize(
    "line, frame",
    [
        (b'{"kind": "probe", "id": 3, "status": "returned"}', {"kind": "probe", "id": 3, "status": "returned"}),
        (b'{"kind": "done"}', {"kind": "done"}),
    ],
)
def test_a_valid_frame_is_parsed(line, frame):
    assert _parse_frame(line) == frame


@pytest.mark.parametrize(
    "line",
    [b'{"value": NaN}', b'{"value": Infinity}', b"[1, 2]", b'"text"', b"\xff\xfe{}", b"{", b"", b"[" * 100000],
)
def test_json_constants_non_objects_bad_utf8_and_deep_nesting_are_dropped(line):
    assert _parse_frame(line) is None


def test_only_frames_of_this_jobs_cells_and_probes_are_kept():
    probes = {0: 2.0, "p1": 2.0}
    assert _expected({"kind": "cell", "index": 1}, 2, probes)
    assert _expected({"kind": "probe", "id": "p1"}, 2, probes)
    assert _expected({"kind": "done"}, 2, probes)
    for forged in (
        {"kind": "cell", "index": 2},  # past the last cell
        {"kind": "cell_start", "index": -1},
        {"kind": "cell", "index": True},  # a bool is not an index
        {"kind": "probe", "id": 10**6},  # a probe this job does not have
        {"kind": "probe_start", "id": [0]},  # unhashable
        {"kind": "probe", "id": False},
    ):
        assert not _expected(forged, 2, probes), forged
