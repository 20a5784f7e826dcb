"""Open an :class:`~autograder.service.Autograder` from command-line style arguments, fast.

The zygote (which imports torch for the sandboxes) starts before this process imports the judge (which
imports torch and pytest), so the two cold imports overlap. ``batch`` starts it even earlier, before
its scan of the submissions (which imports nbgrader). Used by the CLI, ``batch`` and the nbgrader
plugin; it imports none of them, so they need not import each other.
"""

from __future__ import annotations


def start_zygote(args):
    """The assignment's zygote, started now: it imports torch in its own process while this one works."""
    from autograder.assignment import assignment_paths, preload_modules
    from autograder.channel import Zygote

    _, _, grader_path = assignment_paths(args.assignment, args.course_dir)
    return Zygote(preload_modules(grader_path))


def open_autograder(args, zygote=None):
    """An Autograder on ``zygote`` (started here when not given) before this process imports torch.

    It owns the zygote from here on, and closes it on failure.
    """
    zygote = zygote or start_zygote(args)
    try:
        from autograder.service import Autograder

        return Autograder(
            args.assignment, args.course_dir, jobs=args.jobs, zygote=zygote, isolation=getattr(args, "isolation", None)
        )
    except BaseException:
        zygote.close()
        raise
