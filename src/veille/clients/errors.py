"""The one error shape every destination raises, so the outbox treats them alike."""

from __future__ import annotations


class RemoteError(Exception):
    """A failed call; ``permanent`` is False when the same request may succeed later."""

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

    def __str__(self) -> str:
        return f"HTTP {self.status}: {self.message}" if self.status else self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, permanent={self.permanent}, "
            f"status={self.status}, retry_after={self.retry_after})"
        )
