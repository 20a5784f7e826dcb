"""A Dask cluster on 127.0.0.1 for tests and benchmarks, and test-only hooks; no grading path uses this.

:class:`Cluster` starts a ``dask scheduler`` and workers as subprocesses of this venv's ``distributed``.

As a worker preload (``dask worker --preload tests.autograder.dask_support``): a submission whose bytes
hold :data:`KILLER` makes the worker process die by SIGKILL while it grades it. Student code cannot do
that (it runs in the sandbox: another pid namespace, another uid, its own cgroup), so this stands in
for what could: a bug of the judge, or the kernel's OOM killer choosing the worker.

As a program (``python -m tests.autograder.dask_support batch ...``): ``python -m autograder`` with
batch's ``save_result`` wrapped so that each save appends the student's id to the file named by
``$DASK_HOOKS_SAVES`` (a submission recorded twice shows up twice) and, after ``$DASK_HOOKS_KILL_AFTER``
saves, SIGKILLs the process ``$DASK_HOOKS_KILL_PID`` (a worker): a kill mid-batch, at a known point.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# the venv's commands on PATH, and this checkout's autograder for the workers
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT)}
KILLER = "KILL_THE_DASK_WORKER_TEST_HOOK"


class Cluster:
    """A ``dask scheduler`` and ``workers`` ``dask worker`` processes on 127.0.0.1; :meth:`stop` ends them.

    ``tls``: (CA file, certificate, key), for the scheduler, the workers and :meth:`client` alike.
    The workers preload :mod:`autograder.dask_preload`, as the README starts them, and with ``hooks``
    this module (:func:`dask_setup`). The logs are in ``folder``.
    """

    def __init__(self, folder: Path, workers: int, tls: tuple | None = None, env: dict | None = None, hooks=False):
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.tls, self.env = folder, tls, {**ENV, **(env or {})}
        self.procs: list[subprocess.Popen] = []
        protocol = ["--protocol", "tls"] if tls else []
        self._start("scheduler", "dask_scheduler", "--host", "127.0.0.1", "--port", "0", *protocol)
        self.address = self._address(folder / "scheduler.json")
        preload = ["--preload", "autograder.dask_preload"] + (["--preload", __name__] if hooks else [])
        for i in range(workers):
            self._start(f"worker{i}", "dask_worker", "--nthreads", "1", *preload)
        self.pids = self.wait_for_workers(workers)

    def _address(self, spec: Path) -> str:
        """The scheduler's address, from the file it writes once it listens (not atomically: retry)."""
        deadline = time.monotonic() + 60
        while True:
            try:
                return json.loads(spec.read_text())["address"]
            except (OSError, ValueError, KeyError):
                if time.monotonic() > deadline or self.procs[0].poll() is not None:
                    raise RuntimeError(f"the scheduler did not start: see {spec.parent / 'scheduler.log'}") from None
                time.sleep(0.1)

    def _start(self, name: str, cli: str, *args: str) -> None:
        cmd = [sys.executable, "-m", f"distributed.cli.{cli}", "--scheduler-file", str(self.folder / "scheduler.json")]
        cmd += ["--no-dashboard", *args]
        if self.tls:
            ca, cert, key = self.tls
            cmd += ["--tls-ca-file", str(ca), "--tls-cert", str(cert), "--tls-key", str(key)]
        with (self.folder / f"{name}.log").open("w") as log:
            popen = subprocess.Popen(
                cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.procs.append(popen)

    def client(self):
        from distributed import Client
        from distributed.security import Security

        security = None
        if self.tls:
            ca, cert, key = (str(p) for p in self.tls)
            security = Security(tls_ca_file=ca, tls_client_cert=cert, tls_client_key=key, require_encryption=True)
        return Client(self.address, security=security, timeout=30, set_as_default=False)

    def wait_for_workers(self, n: int) -> dict[str, int]:
        """Block until ``n`` workers are up; their process ids by address."""
        with self.client() as client:
            client.wait_for_workers(n, timeout=180)
            return client.run(os.getpid)

    def tls_args(self) -> list[str]:
        ca, cert, key = self.tls
        return ["--tls-ca-file", str(ca), "--tls-cert", str(cert), "--tls-key", str(key)]

    def stop(self) -> None:
        """SIGTERM to each process group (workers first), SIGKILL what is left after 30 s."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def dask_setup(worker) -> None:
    """Preload entry point: runs in each worker process as it starts (and again after a restart)."""
    from autograder import dask_backend

    grade = dask_backend.GraderPlugin.grade

    def grade_or_die(self, data: bytes) -> dict:
        if KILLER.encode() in data:
            os.kill(os.getpid(), signal.SIGKILL)
        return grade(self, data)

    dask_backend.GraderPlugin.grade = grade_or_die


def main() -> int:
    from autograder import batch
    from autograder.cli import main as autograder

    log = os.environ["DASK_HOOKS_SAVES"]
    kill_pid = int(os.environ.get("DASK_HOOKS_KILL_PID", "0"))
    kill_after = int(os.environ.get("DASK_HOOKS_KILL_AFTER", "0"))
    save_result, saves = batch.save_result, []

    def logged(paths, s, result, grader, crashes=None) -> None:
        save_result(paths, s, result, grader, crashes)
        saves.append(s.student)
        with open(log, "a") as f:
            f.write(s.student + "\n")
        if kill_pid and len(saves) == kill_after:
            os.kill(kill_pid, signal.SIGKILL)

    batch.save_result = logged
    return autograder(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())


def warm_graders(dask_worker) -> dict:
    """In a worker (``client.run``): what it keeps warm, ``{assignment: [digest, zygote pid]}``, and under
    ``"unpacked"`` the assignments whose graders lie unpacked in its scratch folder."""
    from autograder.dask_backend import HELD

    held = {a: [w.digest, w.grader.runner.zygote.proc.pid] for a, w in HELD.items() if w.grader is not None}
    graders = Path(dask_worker.local_directory) / "autograder-course" / "graders"
    held["unpacked"] = sorted(p.name for p in graders.glob("*") if p.is_dir())
    return held
