"""Hidden graders use the autograder's pytest glue: the `student` fixture and `--submission`."""

from autograder.pytest_plugin import pytest_addoption, pytest_configure, student  # noqa: F401
