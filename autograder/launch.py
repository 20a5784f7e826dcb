"""Open an :class:`~autograder.service.Autograder` from command-line style arguments, fast.

The zygote (which imports torch for the sandboxes) starts before this process imports the judge (which
imports torch and pytest), so the two cold imports overlap. Used by the CLI, ``batch`` and the
nbgrader plugin; it imports none of them, so they need not import each other.
"""

from __future__ import annotations


def open_autograder(args):
    """An Autograder whose zygote starts before this process imports torch, so the two imports overlap."""
    from autograder.assignment import assignment_paths, preload_modules
    from autograder.channel import Zygote

    _, _, grader_path = assignment_paths(args.assignment, args.course_dir)
    zygote = Zygote(preload_modules(grader_path))
    try:
        from autograder.service import Autograder

        return Autograder(
            args.assignment, args.course_dir, jobs=args.jobs, zygote=zygote, isolation=getattr(args, "isolation", None)
        )
    except BaseException:
        zygote.close()
        raise
