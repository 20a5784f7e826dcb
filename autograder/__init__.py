"""Sandboxed, tamper-proof batch autograder for the course's nbgrader assignments.

See ``python -m autograder --help`` and the README's "Autograder" section.
"""

import sys

# nbformat imports jsonschema, which compiles an IRI grammar with lark at import time whenever the
# optional rfc3987-syntax package is installed: two seconds of every cold start. Notebook schemas
# never use the "iri" format, so the autograder skips that optional checker.
sys.modules.setdefault("rfc3987_syntax", None)
