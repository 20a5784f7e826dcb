"""The sandbox's system-call filter (seccomp), through ``pyseccomp``, which wraps the system libseccomp2.

Namespaces and an unprivileged uid already take away most of the kernel's attack surface; the
filter takes away the calls an unprivileged process could still use to build a place of its own
(new user namespaces, mounts inside them), to reach across the sandbox's walls (``ptrace``,
``process_vm_*``, ``setns``), to leave state behind for a later submission (the kernel keyring) or
to reach rarely used kernel code (``bpf``, ``perf_event_open``, ``userfaultfd``, ``io_uring``,
module and kexec calls). Denied calls fail with ``EPERM``; everything else is allowed.

``clone`` is allowed for threads and processes, but not with any ``CLONE_NEW*`` flag. ``clone3``
passes its flags in memory a filter cannot read, so it fails with ``ENOSYS`` and the C library
falls back to ``clone`` (as container runtimes do).

Example:
    >>> "keyctl" in DENIED and "unshare" in DENIED
    True
"""

from __future__ import annotations

import errno

try:
    import pyseccomp
except (ImportError, OSError) as err:  # no wheel, or no libseccomp.so.2 on this machine
    pyseccomp = None
    UNAVAILABLE = f"pyseccomp cannot load libseccomp ({err})"
else:
    UNAVAILABLE = ""

DENIED = (
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "mount_setattr", "move_mount",
    "open_tree", "fsopen", "fsconfig", "fsmount", "fspick",
    "keyctl", "add_key", "request_key",
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "open_by_handle_at", "name_to_handle_at", "swapon", "swapoff", "reboot", "acct", "quotactl",
    "iopl", "ioperm", "syslog", "lookup_dcookie",
)  # fmt: skip
CLONE_NEW_FLAGS = {
    "CLONE_NEWTIME": 0x00000080,
    "CLONE_NEWNS": 0x00020000,
    "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000,
    "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
}


def install_filter() -> None:
    """Load the filter into this process (inherited by every thread and child, irrevocably).

    Needs ``PR_SET_NO_NEW_PRIVS`` (or root) first. Raises ``RuntimeError`` if libseccomp is missing.
    """
    if pyseccomp is None:
        raise RuntimeError(UNAVAILABLE)
    deny = pyseccomp.ERRNO(errno.EPERM)
    f = pyseccomp.SyscallFilter(defaction=pyseccomp.ALLOW)
    for name in DENIED:
        try:
            f.add_rule(deny, name)
        except (ValueError, OSError):  # a call this architecture or libseccomp does not know
            continue
    for flag in CLONE_NEW_FLAGS.values():  # clone(flags, ...): deny any new namespace
        f.add_rule(deny, "clone", pyseccomp.Arg(0, pyseccomp.MASKED_EQ, flag, flag))
    f.add_rule(pyseccomp.ERRNO(errno.ENOSYS), "clone3")
    f.load()
