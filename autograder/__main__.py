import sys

from autograder.cli import main

if __name__ == "__main__":  # not when a spawned process (a local Dask worker) imports the parent's main module
    sys.exit(main())
