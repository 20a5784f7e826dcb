import logging
import os
import sys

from autograder.cli import main

if __name__ == "__main__":  # not when a spawned process (a local Dask worker) imports the parent's main module
    code = main()
    # Everything is written, committed and closed by now; the interpreter's own teardown (garbage-collecting
    # torch, matplotlib, nbgrader and SQLAlchemy) would add about half a second to every command.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
