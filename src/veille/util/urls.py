"""URLs as veille handles them: one place for checking and comparing them."""

from __future__ import annotations


def url_key(url: str) -> str:
    """How two spellings of one subscription URL compare equal: no scheme, no
    trailing slash, case-insensitive."""
    u = url.strip()
    for prefix in ("https://", "http://"):
        if u.lower().startswith(prefix):
            u = u[len(prefix) :]
            break
    return u.rstrip("/").lower()
