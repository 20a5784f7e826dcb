"""nbgrader configuration for the reward-modeling course (run nbgrader from this directory)."""

import os

from autograder.nbgrader_plugin import use_sandbox

c = get_config()  # noqa: F821 - provided by nbgrader
c.CourseDirectory.course_id = "reward-modeling"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
# Hidden graders, example submissions and reports live next to source/ but are never released.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "graders", "examples", "reports"]
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.enforce_metadata = True
c.Execute.timeout = 60
# `nbgrader autograde` and formgrader's Autograde button grade in the sandbox, exactly as
# `python -m autograder batch`; `nbgrader validate` refuses to run notebooks (autograder/nbgrader_plugin.py).
use_sandbox(c)
