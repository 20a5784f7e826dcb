"""course_lib.data.samples: the shipped sample files are found by name."""

import pytest

from course_lib.data import samples


def test_path_finds_every_shipped_sample():
    for name in samples.NAMES:
        assert samples.path(name).is_file()
        assert samples.path(name).stat().st_size > 0


def test_path_unknown_name_lists_the_samples():
    with pytest.raises(FileNotFoundError, match="preference_pairs.jsonl"):
        samples.path("pairs.csv")
