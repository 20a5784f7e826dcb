"""nbgrader's own doors into grading, routed through the sandbox: ``nbgrader autograde`` and formgrader.

The course's ``nbgrader_config.py`` calls :func:`use_sandbox`. nbgrader's autograde pipeline (stock:
clear outputs, overwrite cells, then ``Execute`` runs the student's notebook in an ordinary kernel, as
the instructor, with the course directory in reach) becomes one preprocessor, :class:`SandboxAutograde`,
which grades the submission with the same :class:`~autograder.service.Autograder` and writes the same
autograded notebook, record (``reports/<assignment>/records/<student>.json``, notes included) and
gradebook rows as ``python -m autograder batch``, through batch's own functions. nbgrader itself never
opens the submitted notebook (:class:`PlaceholderExporter`); the sanitizing stage is empty because the
grader takes every read-only cell, point value and metadata from the trusted source; the other files
nbgrader copies from the submission folder are removed again. So formgrader's
Autograde button, ``nbgrader autograde`` and ``batch`` are one grader behind three doors, and a batch
run afterwards skips what the button graded (same record, same digest).

One Autograder per assignment is kept per process: ``nbgrader autograde`` grades all its students with
one, and formgrader (which autogrades in the server process) keeps it warm between clicks; it is
rebuilt when the grader, its conftest or the source notebook change.

nbgrader's ``Execute`` still exists for ``nbgrader validate`` (command line and the Validate button)
and ``generate_solution``. Under this configuration it refuses to run any notebook while nbgrader
says it is validating or autograding, naming the sandboxed command instead; ``generate_solution``
runs the instructor's own source notebooks and is left alone.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from pathlib import Path

from nbconvert.exporters import NotebookExporter
from nbconvert.exporters.exporter import ResourcesDict
from nbformat.v4 import new_notebook
from nbgrader.preprocessors import NbGraderPreprocessor

from autograder.assignment import SetupError, assignment_paths
from autograder.files import owned_name

SAFE_COMMAND = "python -m autograder grade ASSIGNMENT NOTEBOOK.ipynb --course-dir COURSE_DIR"


class UnsandboxedExecution(RuntimeError):
    """nbgrader was about to run a possibly untrusted notebook outside the sandbox."""


def refuse_unsandboxed_execution(cell=None, cell_index=None, **_) -> None:
    """``Execute.on_cell_start`` hook: no cell runs while nbgrader validates or autogrades.

    Raised before the first cell, inside nbclient's kernel context, so the (still empty) kernel is
    shut down again.
    """
    mode = os.environ.get("NBGRADER_EXECUTION")
    if mode == "validate":
        raise UnsandboxedExecution(
            "this course does not run notebooks with `nbgrader validate`: it would execute the notebook in an "
            "ordinary kernel as you, with the course directory, the hidden graders and the gradebook in reach. "
            f"Grade it in the sandbox instead: `{SAFE_COMMAND}` (the same grader as `nbgrader autograde` and "
            "formgrader's Autograde button in this course)"
        )
    if mode == "autograde":
        raise UnsandboxedExecution(
            "nbgrader's Execute preprocessor is in the autograde pipeline, so the submission would run "
            "unsandboxed; this course's nbgrader_config.py calls use_sandbox(c): do not add Execute back to "
            "Autograde.sanitize_preprocessors or Autograde.autograde_preprocessors. Safe command: "
            "`python -m autograder batch ASSIGNMENT --course-dir COURSE_DIR`"
        )


class PlaceholderExporter(NotebookExporter):
    """Hands nbgrader's autograde pipeline an empty notebook instead of opening the file it names.

    nbgrader would open ``submitted/<student>/...`` by name (following links, no size cap) in this
    process; :class:`SandboxAutograde` reads the submission itself, as batch does, and replaces the
    notebook whole. Configured for the Autograde converter only.
    """

    def from_filename(self, filename, resources=None, **kw):
        resources = resources if resources is not None else ResourcesDict()
        if not resources.get("metadata"):
            resources["metadata"] = ResourcesDict()
        path, basename = os.path.split(filename)
        resources["metadata"]["name"] = os.path.splitext(basename)[0]
        resources["metadata"]["path"] = path
        return self.from_notebook_node(new_notebook(), resources=resources, **kw)


class _Cache:
    """One warm Autograder per (course directory, assignment) in this process, rebuilt when its inputs change.

    Inputs: the source notebook and the grader's folder and conftest (not ``course_lib``: restart
    formgrader after changing it).
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._graders: dict[tuple[str, str], tuple[tuple, object]] = {}

    @staticmethod
    def fingerprint(course_dir: Path, assignment: str) -> tuple:
        _, source, grader = assignment_paths(assignment, course_dir)
        files = [source, *sorted(grader.parent.rglob("*.py")), grader.parent.parent / "conftest.py"]
        return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files if p.is_file())

    def get(self, course_dir: Path, assignment: str, log):
        from autograder.launch import open_autograder  # imports torch: only once grading starts

        key = (str(course_dir), assignment)
        fingerprint = self.fingerprint(course_dir, assignment)
        with self._lock:
            cached = self._graders.get(key)
            if cached and cached[0] == fingerprint:
                return cached[1]
            if cached:
                log.info("the grader or source of %s changed: restarting its sandboxed grader", assignment)
                cached[1].close()
                del self._graders[key]
            log.info("starting the sandboxed grader for %s (kept warm for the rest of this process)", assignment)
            args = _GraderArgs(assignment, course_dir)
            grader = open_autograder(args)
            self._graders[key] = (fingerprint, grader)
            return grader

    def close(self) -> None:
        with self._lock:
            for _, grader in self._graders.values():
                grader.close()
            self._graders.clear()


class _GraderArgs:
    """What :func:`autograder.launch.open_autograder` reads, with batch's defaults."""

    def __init__(self, assignment: str, course_dir: Path):
        self.assignment = assignment
        self.course_dir = course_dir
        self.jobs = 1  # nbgrader hands over one notebook at a time
        self.isolation = None  # the strongest this machine allows, as batch


GRADERS = _Cache()
atexit.register(GRADERS.close)


def _coursedir(preprocessor):
    """The CourseDirectory of the converter that runs ``preprocessor`` (preprocessor -> exporter -> converter)."""
    node = preprocessor
    while node is not None:
        if getattr(node, "coursedir", None) is not None:
            return node.coursedir
        node = node.parent
    raise SetupError("SandboxAutograde runs only inside nbgrader's Autograde converter (nbgrader autograde)")


class SandboxAutograde(NbGraderPreprocessor):
    """Grades one submission in the sandbox and returns batch's autograded notebook for it.

    Reads the submission, grades it and writes the autograded notebook, the record and the gradebook
    rows with batch's own functions (``find_submissions``, ``save_result``, ``sync_gradebook``); the notebook
    nbgrader passes in is ignored and the student's code never runs in this process.
    """

    def preprocess(self, nb, resources):
        from autograder.autograded import build_autograded
        from autograder.batch import BatchPaths, find_submissions, save_result
        from autograder.gradebook import sync_gradebook

        info = resources["nbgrader"]
        assignment, student = info["assignment"], info["student"]
        course_dir = _check_layout(_coursedir(self), assignment, student, info["notebook"])
        grader = GRADERS.get(course_dir, assignment, self.log)
        paths = BatchPaths(course_dir, assignment)
        with tempfile.TemporaryDirectory(prefix=owned_name("nbgrader-")) as spool:
            found, skipped = find_submissions(course_dir, assignment, Path(spool), lambda s: s.student == student)
            mine = [s for s in found if s.student == student]
            if not mine:
                why = "; ".join(skipped) or "the folder is gone"
                raise SetupError(f"cannot grade {course_dir}/submitted/{student}/{assignment}/: {why}")
            sub = mine[0]
            result = grader.judge_error(sub.source, sub.error) if sub.error else grader.grade(sub.notebook)
            # nbgrader copied the submission folder's other files here, following links (a link to a
            # hidden grader would reach feedback/); batch's folder holds only what save_result writes
            shutil.rmtree(paths.autograded(student), ignore_errors=True)
            save_result(paths, sub, result, grader)
            autograded = build_autograded(sub.notebook, result, grader.source_nb, grader.source_roles)
        sync_gradebook(
            course_dir,
            assignment,
            {student: result},
            {student: sub.timestamp},
            grader.source_roles,
            db_url=info["db_url"],
        )
        for note in result.notes:
            self.log.warning("%s: %s", student, note)
        self.log.info(
            "%s/%s graded in the sandbox (isolation %s): %s", student, assignment, result.isolation, result.summary()
        )
        return autograded, resources


def _check_layout(coursedir, assignment: str, student: str, notebook: str) -> Path:
    """The course directory, if nbgrader's layout is the one batch reads; else a SetupError saying what to fix."""
    course_dir = Path(coursedir.root).resolve()
    if notebook != assignment:
        raise SetupError(
            f"{assignment}/{notebook}.ipynb: this course grades one notebook per assignment, named "
            f"{assignment}.ipynb; rename the notebook in source/{assignment}/"
        )
    submitted = Path(coursedir.format_path(coursedir.submitted_directory, student, assignment)).resolve()
    if submitted != course_dir / "submitted" / student / assignment:
        raise SetupError(
            f"nbgrader looks for submissions in {submitted}, the sandboxed grader in "
            f"{course_dir}/submitted/<student>/<assignment>/: remove the custom CourseDirectory.directory_structure "
            "or submitted_directory from nbgrader_config.py"
        )
    return course_dir


def use_sandbox(c) -> None:
    """Route ``nbgrader autograde`` and formgrader's Autograde button through the sandbox (see module doc)."""
    c.Autograde.sanitize_preprocessors = []
    c.Autograde.autograde_preprocessors = [SandboxAutograde]
    c.Autograde.exporter_class = PlaceholderExporter
    c.Execute.on_cell_start = refuse_unsandboxed_execution
