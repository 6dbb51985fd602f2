"""The one error every destination raises, so the outbox treats them all alike.

A failed send, wherever it happened (an HTTP answer, a network error, a command
that exited non-zero, a file that could not be written), is a ``RemoteError``
rooted at ``VeilleError``: its message is one line meant for the user, and
``permanent`` says whether sending the same thing again could ever work.
"""

from __future__ import annotations

from collections.abc import Callable

from veille.domain.errors import VeilleError


class RemoteError(VeilleError):
    """A failed call or send; ``permanent`` is False when the same request may succeed later."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        status: int | None = None,
        retry_after: float | None = None,
        error: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.status = status
        self.retry_after = retry_after
        self.error = error  # a protocol's own error name (XRPC "ExpiredToken"), if any

    def redacted(self, redact: Callable[[str], str]) -> RemoteError:
        """The same error with secrets taken out of its message (and its args).

        Servers echo what they were sent, ``Authorization`` header included, so
        the message is cleaned by whoever knows the secrets before it is stored,
        logged or shown.  Changed in place: the error is still the one raised.
        """
        self.message = redact(self.message)
        if self.error:
            self.error = redact(self.error)
        self.args = (self.message,)
        return self

    def __str__(self) -> str:
        return f"HTTP {self.status}: {self.message}" if self.status else self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, permanent={self.permanent}, "
            f"status={self.status}, retry_after={self.retry_after})"
        )
