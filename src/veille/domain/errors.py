"""The root of veille's own exceptions.

Everything veille raises on purpose derives from VeilleError, so the CLI and the
app can tell "a reason to show the user in one line" from a bug (which goes to
the log with its traceback).
"""

from __future__ import annotations


class VeilleError(Exception):
    """A problem with a message meant for the user."""
