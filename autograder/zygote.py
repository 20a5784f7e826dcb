"""The warm zygote: a fresh interpreter that imports torch once and forks one sandbox per job.

Started by the judge as ``python -m autograder.zygote FD MODULES``. It never sees graders, expected
values or other submissions: it imports only third-party modules (never ``course_lib``, whose
graded functions the sandbox must not find in memory), then waits on a Unix socket. For each job
it receives three pipe ends (job in, results out, output out) with ``SCM_RIGHTS`` and forks a
supervisor, which enters a new pid namespace and forks pid 1 of the sandbox
(:func:`autograder.worker.run`). The judge ends a job by killing the supervisor: the kernel then
kills pid 1 (parent-death signal) and with it every process in the namespace.
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

from autograder import sandbox, worker


def _supervise(level: str, fds: list[int], zygote_pid: int) -> None:  # pragma: no cover - forked child
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
        sandbox.enter_pid_namespace(level)
        pid = os.fork()
        if pid == 0:
            try:
                worker.run(*fds)
            except BaseException:
                os.write(fds[2], traceback.format_exc().encode())  # a setup failure: show the judge
                os._exit(worker.EXIT_SETUP_ERROR)
            os._exit(0)
        for fd in fds:
            os.close(fd)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status) & 0xFF
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
    sock.sendall(json.dumps({"ready": True, "level": level, "loaded": loaded, "failed": failed}).encode())
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # reap supervisors automatically
    zygote_pid = os.getpid()
    while True:
        msg, fds, _, _ = socket.recv_fds(sock, 4096, 3)
        if not msg:
            break  # the judge is gone
        header = json.loads(msg)
        pid = os.fork()
        if pid == 0:
            sock.close()
            _supervise(header["level"], fds, zygote_pid)
        for fd in fds:
            os.close(fd)
        sock.sendall(json.dumps({"pid": pid}).encode())
    os._exit(0)


def main() -> None:
    fd, modules = int(sys.argv[1]), [m for m in sys.argv[2].split(",") if m]
    sandbox.prctl(sandbox.PR_SET_PDEATHSIG, signal.SIGKILL)  # die with the judge
    try:
        serve(socket.socket(fileno=fd), modules)
    except (BrokenPipeError, ConnectionResetError):
        os._exit(0)  # the judge went away


if __name__ == "__main__":
    main()
