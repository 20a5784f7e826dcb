"""The warm zygote: a fresh interpreter that imports torch once and forks one sandbox per job.

Started by the judge as ``python -m autograder.zygote FD MODULES``. It never sees graders, expected
values or other submissions: it imports only third-party modules (never ``course_lib``, whose
graded functions the sandbox must not find in memory), then waits on a Unix socket. For each job
it receives three pipe ends (job in, results out, output out) with ``SCM_RIGHTS`` and forks a
supervisor. The supervisor joins the sandbox's cgroup (made by the judge), makes itself the OOM
killer's first victim, enters a new pid namespace and forks the sandbox's init (pid 1): trusted
code that forks the worker (pid 2, :func:`autograder.worker.run`, which runs the student's code)
and then only reaps. When the worker exits, init exits, and the kernel kills every process left in
the namespace. The judge ends a job early by killing the supervisor (init has a parent-death
signal) and the whole cgroup.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import socket
import sys
import traceback

from autograder import sandbox, syscalls, worker

SANDBOX_OOM_SCORE_ADJ = 1000  # the sandbox is the OOM killer's first victim
JUDGE_OOM_SCORE_ADJ = -900  # the judge and this zygote are nearly its last


def _setup_error(fd: int, message: str) -> None:
    os.write(fd, (json.dumps({"kind": "setup_error", "message": message[:500]}) + "\n").encode())


def _supervise(header: dict, fds: list[int], zygote_pid: int) -> None:  # pragma: no cover - forked child
    code = 1
    try:
        sandbox.prctl(sandbox.PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != zygote_pid:
            os._exit(1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        keep = set(fds)
        for fd in range(3, 1024):
            if fd not in keep:
                with contextlib.suppress(OSError):
                    os.close(fd)
        try:
            for procs in header.get("cgroup", []):  # every process the sandbox starts is counted here
                with open(procs, "w") as f:
                    f.write(str(os.getpid()))
        except OSError as err:
            _setup_error(fds[1], f"cannot join the sandbox cgroup: {err}")
            os._exit(worker.EXIT_SETUP_ERROR)
        sandbox.set_oom_score_adj(SANDBOX_OOM_SCORE_ADJ)
        sandbox.enter_pid_namespace(header["level"])
        pid = os.fork()
        if pid == 0:
            _init(fds)
        for fd in fds:
            os.close(fd)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status) & 0xFF
    finally:
        os._exit(code)


def _init(fds: list[int]) -> None:  # pragma: no cover - forked child
    """pid 1 of the sandbox: fork the worker, then only reap; exit with the worker's exit code.

    No student code ever runs here, so nothing can clear this process's parent-death signal or
    replace its exit path, and its exit ends the namespace.
    """
    code = 1
    try:
        sandbox.prctl(sandbox.PR_SET_PDEATHSIG, signal.SIGKILL)
        worker_pid = os.fork()
        if worker_pid == 0:
            try:
                worker.run(*fds)
            except BaseException:
                os.write(fds[2], traceback.format_exc().encode())  # a setup failure: show the judge
                os._exit(worker.EXIT_SETUP_ERROR)
            os._exit(0)
        for fd in fds:
            os.close(fd)
        while True:
            pid, status = os.wait()  # orphans are re-parented to us: reap them too
            if pid == worker_pid:
                code = os.waitstatus_to_exitcode(status) & 0xFF
                break
    finally:
        os._exit(code)


def serve(sock: socket.socket, modules: list[str]) -> None:
    loaded, failed = [], []
    for name in modules:
        try:
            importlib.import_module(name)
            loaded.append(name)
        except Exception as err:  # report, keep going: the sandbox imports it itself
            failed.append(f"{name}: {err}")
    level = sandbox.detect_level()
    hello = {"ready": True, "level": level, "loaded": loaded, "failed": failed, "seccomp": syscalls.UNAVAILABLE}
    sock.sendall(json.dumps(hello).encode())
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # reap supervisors automatically
    # A sandbox's init whose supervisor the judge killed first is re-parented here, and reaped at once,
    # rather than to the machine's pid 1, which may leave it a zombie in the judge's session for a while.
    sandbox.prctl(sandbox.PR_SET_CHILD_SUBREAPER, 1)
    zygote_pid = os.getpid()
    while True:
        msg, fds, _, _ = socket.recv_fds(sock, 4096, 3)
        if not msg:
            break  # the judge is gone
        header = json.loads(msg)
        pid = os.fork()
        if pid == 0:
            sock.close()
            _supervise(header, fds, zygote_pid)
        for fd in fds:
            os.close(fd)
        sock.sendall(json.dumps({"pid": pid}).encode())
    os._exit(0)


def main() -> None:
    fd, modules = int(sys.argv[1]), [m for m in sys.argv[2].split(",") if m]
    sandbox.prctl(sandbox.PR_SET_PDEATHSIG, signal.SIGKILL)  # die with the judge
    sandbox.set_oom_score_adj(JUDGE_OOM_SCORE_ADJ)  # lowering needs root; without it, stays as it was
    try:
        serve(socket.socket(fileno=fd), modules)
    except (BrokenPipeError, ConnectionResetError):
        os._exit(0)  # the judge went away


if __name__ == "__main__":
    main()
