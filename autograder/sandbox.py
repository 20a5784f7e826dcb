"""Linux isolation for student code: namespaces, a private root, limits, a system-call filter and an
unprivileged user.

A submission runs in a process tree built by :mod:`autograder.zygote`: a supervisor enters a new pid
namespace (:func:`enter_pid_namespace`) and forks a trusted init, pid 1, which only reaps; init forks
the worker, pid 2, which calls :func:`enter_sandbox` and then runs the student's code:

* new mount, network, IPC, UTS and pid namespaces: no network, no view of host processes, and when
  init exits the kernel kills every process the student started, daemons included;
* a new root built on tmpfs holding only read-only binds of the system and Python directories,
  the student copy of ``course_lib`` and a private ``/tmp``; the course directory, graders,
  solutions, gradebook and other submissions are simply not in it;
* System V IPC limits inside the new IPC namespace, rlimits on address space, CPU time, processes,
  file size and open files, a dedicated unprivileged uid (or, without root, a user namespace with
  every capability dropped), ``no_new_privs``, and the seccomp filter of :mod:`autograder.syscalls`.

The memory, process and CPU limits that hold for the whole tree (shared memory included) are the
sandbox's cgroup (:mod:`autograder.cgroups`), which the judge makes and the supervisor joins.

Levels (:func:`detect_level`): ``namespaces`` as root, ``user-namespace`` without root,
``unprivileged-user`` (no namespaces, but root can switch uid), ``none`` (limits only).
Python 3.11 has no ``os.unshare``, so the system calls go through ``ctypes``.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import resource
import shutil
import socket
import subprocess
from dataclasses import asdict, dataclass, field
from enum import Enum

from autograder import syscalls

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 1, 38, 4, 36
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(os.uname().machine)
SYS_CAPSET = {"x86_64": 126, "aarch64": 91}.get(os.uname().machine)


class Isolation(str, Enum):
    """How a sandbox is isolated, strongest first (a ``str``: it travels in JSON and reports as is)."""

    NAMESPACES = "namespaces"  # root: pid/mount/net/ipc/uts namespaces, private root, dedicated uid
    USER_NAMESPACE = "user-namespace"  # no root: the same namespaces inside a user namespace
    UNPRIVILEGED_USER = "unprivileged-user"  # root, no namespaces: a dedicated uid, killed by uid
    NONE = "none"  # limits only: not enough to grade

    def __str__(self) -> str:
        return self.value


LEVELS = tuple(Isolation)

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


class SandboxError(RuntimeError):
    """The sandbox could not be built (a setup problem, not the student's fault)."""


def _check(ret: int, what: str) -> int:
    if ret == -1:
        err = ctypes.get_errno()
        raise SandboxError(f"{what} failed: {os.strerror(err)}")
    return ret


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), f"unshare({flags:#x})")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def enc(s: str | None) -> bytes | None:
        return None if s is None else s.encode()

    _check(
        _libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
        f"mount {source} on {target}",
    )


def prctl(option: int, arg: int) -> None:
    _check(_libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0), f"prctl({option})")


@dataclass
class Limits:
    """Resource limits for one submission (bytes and seconds)."""

    memory_bytes: int = 3 * 2**30  # address space the student may add to the preloaded interpreter
    cpu_seconds: int = 120
    processes: int = 64
    file_bytes: int = 32 * 2**20
    open_files: int = 256
    tmp_bytes: int = 64 * 2**20
    shm_bytes: int = 64 * 2**20  # System V shared memory in the sandbox's IPC namespace
    cpus: float = 1.0  # CPU share of the sandbox's cgroup (1.0 = one core)


@dataclass
class SandboxConfig:
    """What the child needs to build its sandbox; plain data so it travels in the job."""

    level: str = "namespaces"
    root_dir: str = ""  # an empty host directory (judge-owned) on which the new root is mounted
    uid: int = 61000  # dedicated unprivileged uid (root levels)
    binds: list[str] = field(default_factory=list)  # host paths bound read-only at the same path
    overlays: list[tuple[str, str]] = field(default_factory=list)  # (host path, sandbox path), read-only
    limits: Limits = field(default_factory=Limits)
    seccomp: bool = True  # load the system-call filter (False only where libseccomp is missing)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> SandboxConfig:
        d = dict(d)
        d["limits"] = Limits(**d["limits"])
        d["overlays"] = [tuple(o) for o in d["overlays"]]
        return cls(**d)


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def enter_pid_namespace(level: str) -> None:
    """In the supervisor: make its next child pid 1 of a new pid namespace (and user namespace)."""
    if level == Isolation.NAMESPACES:
        unshare(CLONE_NEWPID)
    elif level == Isolation.USER_NAMESPACE:
        uid, gid = os.getuid(), os.getgid()
        unshare(CLONE_NEWUSER | CLONE_NEWPID)
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"0 {uid} 1")
        _write("/proc/self/gid_map", f"0 {gid} 1")


def _bind(src: str, dst: str, device: bool = False) -> None:
    if os.path.islink(src):
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        os.symlink(os.readlink(src), dst)
        return
    if os.path.isdir(src):
        os.makedirs(dst, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        open(dst, "a").close()
    mount(src, dst, None, MS_BIND | MS_REC)
    mount(None, dst, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | (0 if device else MS_NODEV))


def _build_root(config: SandboxConfig) -> None:
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount leaks to the host
    root = config.root_dir
    if not (root and os.path.isdir(root)):
        raise SandboxError(f"root_dir {root!r} is not a directory")
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=8m,mode=755")
    # a private /tmp first, so binds below it (a checkout or venv under /tmp) are not hidden by it
    os.makedirs(root + "/tmp", exist_ok=True)
    mount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={config.limits.tmp_bytes},mode=1777")
    for path in config.binds:
        if os.path.lexists(path):
            _bind(path, root + path)
    for src, dst in config.overlays:
        _bind(src, root + dst)
    os.makedirs(root + "/dev/shm", exist_ok=True)
    mount("tmpfs", root + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=1777")
    for dev in ("null", "zero", "random", "urandom"):
        _bind("/dev/" + dev, root + "/dev/" + dev, device=True)
    os.symlink("/proc/self/fd", root + "/dev/fd")
    os.makedirs(root + "/proc", exist_ok=True)
    mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.chdir(root)
    _check(_libc.syscall(SYS_PIVOT_ROOT, b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "umount old root")
    os.chdir("/")
    mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _set_limits(limits: Limits) -> None:
    import re

    with open("/proc/self/status") as f:
        vm_size = int(re.search(r"VmSize:\s+(\d+) kB", f.read()).group(1)) * 1024
    address_space = vm_size + limits.memory_bytes
    for name, value in (
        ("RLIMIT_AS", address_space),
        ("RLIMIT_CPU", limits.cpu_seconds),
        ("RLIMIT_FSIZE", limits.file_bytes),
        ("RLIMIT_NOFILE", limits.open_files),
        ("RLIMIT_CORE", 0),
    ):
        resource.setrlimit(getattr(resource, name), (value, value))


def _drop_capabilities() -> None:
    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    header, data = Header(0x20080522, 0), (Data * 2)()
    _check(_libc.syscall(SYS_CAPSET, ctypes.byref(header), ctypes.byref(data)), "capset")


def _limit_ipc(limits: Limits) -> None:
    """System V IPC limits of this (new) IPC namespace: segments are small, few, and die with it."""
    page = os.sysconf("SC_PAGE_SIZE")
    for name, value in (
        ("shmmax", limits.shm_bytes),
        ("shmall", max(1, limits.shm_bytes // page)),
        ("shmmni", 16),
        ("msgmni", 16),
        ("msgmnb", 65536),
    ):
        _write(f"/proc/sys/kernel/{name}", str(value))


def set_oom_score_adj(value: int) -> bool:
    """Make this process (and its future children) an earlier or later OOM victim; False if not allowed."""
    try:
        _write("/proc/self/oom_score_adj", str(value))
        return True
    except OSError:
        return False


def _set_process_limit(config: SandboxConfig) -> None:
    n = config.limits.processes
    if config.level in (Isolation.USER_NAMESPACE, Isolation.NONE):
        n += len(uid_processes(os.getuid()))  # the limit counts every process of this uid
    resource.setrlimit(resource.RLIMIT_NPROC, (n, n))


def enter_sandbox(config: SandboxConfig) -> None:
    """In the worker (pid 2 under the trusted init): build the private root, set limits, drop privileges."""
    prctl(PR_SET_PDEATHSIG, 9)  # if init dies, so do we
    if config.level in (Isolation.NAMESPACES, Isolation.USER_NAMESPACE):
        unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)
        socket.sethostname("sandbox")
        if config.level == Isolation.NAMESPACES:  # in a user namespace these files are not ours
            _limit_ipc(config.limits)
        _build_root(config)
    _set_limits(config.limits)
    _set_process_limit(config)
    if config.level in (Isolation.NAMESPACES, Isolation.UNPRIVILEGED_USER):
        os.setgroups([])
        os.setresgid(config.uid, config.uid, config.uid)
        os.setresuid(config.uid, config.uid, config.uid)
        prctl(PR_SET_PDEATHSIG, 9)  # a uid change clears it
    elif config.level == Isolation.USER_NAMESPACE:
        _drop_capabilities()
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    prctl(PR_SET_DUMPABLE, 0)
    if config.seccomp:
        try:
            syscalls.install_filter()
        except (RuntimeError, OSError) as err:
            raise SandboxError(f"the seccomp filter could not be loaded: {err}") from None


SETPRIV = shutil.which("setpriv")  # util-linux; without it kill_uid forks this process
KILL_EVERY_PROCESS = "kill -s KILL -- -1; kill -s KILL -- -1; kill -s KILL -- -1"  # forks while killing: next round


def kill_uid(uid: int) -> None:
    """Kill every process of ``uid``: a child switches to it and sends SIGKILL to -1 (root only).

    Without a pid namespace (the ``unprivileged-user`` level) this is how daemons a submission left
    behind are ended: ``kill(-1)`` reaches every process the sender may signal, which for a
    dedicated uid is exactly the submission's processes. The child is ``setpriv ... sh -c 'kill'``,
    spawned with vfork: forking the judge's own process (torch loaded, many threads) took 19 ms
    with the GIL held, once per submission. Where ``setpriv`` is missing or fails, it forks.
    """
    if SETPRIV is not None:
        cmd = [SETPRIV, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "/bin/sh", "-c", KILL_EVERY_PROCESS]
        with contextlib.suppress(OSError):
            done = subprocess.run(
                cmd, env={}, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            if done.returncode == 0:
                return
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            os.setresuid(uid, uid, uid)
            for _ in range(3):  # processes forked while we were killing get the next round
                with contextlib.suppress(ProcessLookupError):
                    os.kill(-1, 9)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def uid_processes(uid: int) -> list[int]:
    """The pids of every process running as ``uid`` (to check that nothing of a sandbox is left)."""
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            with contextlib.suppress(OSError):
                if os.stat(f"/proc/{name}").st_uid == uid:
                    pids.append(int(name))
    return pids


def level_works(level: str) -> bool:
    """Whether ``level`` can be entered here, tried in a throwaway child."""
    if level == Isolation.NONE:
        return True
    if level in (Isolation.NAMESPACES, Isolation.UNPRIVILEGED_USER) and os.geteuid() != 0:
        return False
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            if level == Isolation.UNPRIVILEGED_USER:
                os.setresuid(65534, 65534, 65534)
                # the sandbox uid must read the interpreter's stdlib (not so under a 0700 /root)
                open(os.__file__, "rb").close()
            else:
                enter_pid_namespace(level)
                unshare(CLONE_NEWNS | CLONE_NEWNET)
                mount(None, "/", None, MS_REC | MS_PRIVATE)
                mount("tmpfs", "/tmp", "tmpfs", 0, "size=1m")  # only in this child's namespace
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def detect_level() -> Isolation:
    """The strongest isolation this machine allows."""
    return next(level for level in LEVELS if level_works(level))
