"""Serve nbgrader's formgrader for a course directory on 127.0.0.1, for browser tests.

``with formgrader(course_dir) as fg:`` starts ``jupyter server`` with only the formgrader extension,
rooted at (and run from) ``course_dir``, waits until it answers, and yields a :class:`Formgrader`:
``fg.url`` (base URL, no trailing slash), ``fg.token``, ``fg.login_url`` (what a browser opens to log
in: ``/?token=...``, which redirects to formgrader) and ``fg.submission_url(id)``. The server runs
with private Jupyter config/data/runtime folders and is killed, with its process group, on exit.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

EXTENSION = "nbgrader.server_extensions.formgrader"
# Extensions installed in the environment that formgrader does not need (they only slow the start).
OTHERS = (
    "jupyterlab",
    "notebook",
    "notebook_shim",
    "jupyter_lsp",
    "jupyter_server_terminals",
    "jupyterlab_jupytext",
    "nbgrader.server_extensions.validate_assignment",
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
)


@dataclass(frozen=True)
class Formgrader:
    url: str  # e.g. http://127.0.0.1:8123
    token: str
    log: Path  # the server's stdout and stderr

    @property
    def login_url(self) -> str:
        return f"{self.url}/?token={self.token}"

    def submission_url(self, submission_notebook_id: str) -> str:
        """Formgrader's grading view of one submitted notebook (a gradebook SubmittedNotebook id)."""
        return f"{self.url}/formgrader/submissions/{submission_notebook_id}"

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def formgrader(course_dir: str | Path, timeout: float = 90.0) -> Iterator[Formgrader]:
    """Run formgrader for ``course_dir`` (which holds ``nbgrader_config.py``) until the block exits."""
    course_dir = Path(course_dir).resolve()
    token = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="formgrader-") as tmp:
        home = Path(tmp)
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",  # nbgrader runs alembic
            "JUPYTER_CONFIG_DIR": str(home / "config"),
            "JUPYTER_DATA_DIR": str(home / "data"),
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
            "JUPYTER_PLATFORM_DIRS": "1",
        }
        port = _free_port()
        cmd = [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            "--allow-root",  # CI containers run as root; the server is on 127.0.0.1 with a token
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={course_dir}",
            f"--IdentityProvider.token={token}",
            "--ServerApp.default_url=/formgrader",
            f"--ServerApp.jpserver_extensions={EXTENSION}=True",
            *(f"--ServerApp.jpserver_extensions={name}=False" for name in OTHERS),
        ]
        log = home / "server.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                cmd, cwd=course_dir, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        server = Formgrader(f"http://127.0.0.1:{port}", token, log)
        try:
            deadline = time.monotonic() + timeout
            while not _answers(f"{server.url}/api/status?token={token}"):
                if proc.poll() is not None:
                    raise RuntimeError(f"jupyter server exited with {proc.returncode}:\n{server.log_tail()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"jupyter server did not answer within {timeout:g} s:\n{server.log_tail()}")
                time.sleep(0.1)
            yield server
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
