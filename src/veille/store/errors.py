"""The store's errors, apart so its helpers (schema migrations) can raise them
without importing the Store."""

from __future__ import annotations

from veille.domain.errors import VeilleError


class StoreError(VeilleError):
    """A store operation got bad input (unknown id, ambiguous prefix...)."""


class StoreWriteError(VeilleError):
    """Changes could not reach the disk (full, read-only, damaged): they are kept
    in memory and retried, but the caller must not claim they were saved."""
