"""Taking secrets out of text before it is stored, logged or shown.

Servers echo what they were sent: a 401 page that prints the ``Authorization``
header, a 500 that dumps the request as JSON, a proxy that logs the query
string.  Whatever a server says ends up in a delivery's error, in shares.json,
in ``veille shares`` and in the log, so every message from a remote is passed
through ``redact`` by the code that creates the error, with the secrets of the
account it talked to.

Two nets: the account's own secrets, found in any of the spellings a server
may echo them in (as is, URL-encoded, JSON- or HTML-escaped, or cut short
where a message was truncated), and patterns that catch secrets nobody told us
about (a ``Bearer`` header, a JWT, ``access_token=...``).
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

from veille.accounts.config import secret_name
from veille.accounts.secrets import SecretStore

log = logging.getLogger(__name__)

REDACTED = "[redacted]"
#: Shorter secrets are only redacted as whole words: "t" must not eat every "t".
MIN_ANYWHERE = 8
#: A message cut short may end with the start of a secret: that many characters
#: of a longer secret at the very end are enough to redact them.
MIN_TAIL = 8

_TOKEN_CHARS = r"A-Za-z0-9._~+/=\-"
_PATTERNS = [
    # Authorization header values, wherever they are echoed.
    (re.compile(rf"(?i)\b(bearer|basic|dpop)(\s+)[{_TOKEN_CHARS}]{{6,}}"), r"\1\2" + REDACTED),
    # JSON Web Tokens (Bluesky sessions): header.payload.signature, header starts "eyJ".
    (re.compile(r"eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*"), REDACTED),
    # name=value / "name": "value" for the usual secret names.
    (
        re.compile(
            r"(?i)\b(access_?token|refresh_?token|access_?jwt|refresh_?jwt|client_?secret|"
            r"app_?password|password|passwd)(\"?'?\s*[:=]\s*\"?'?)([^\s\"'&,;}<]{4,})"
        ),
        r"\1\2" + REDACTED,
    ),
]
_WORD = r"[A-Za-z0-9_.~\-]"


def spellings(secret: str) -> set[str]:
    """The ways a server may echo ``secret`` back."""
    out = {secret, quote(secret, safe=""), quote_plus(secret), html.escape(secret)}
    out.add(json.dumps(secret)[1:-1])
    out.add(json.dumps(secret, ensure_ascii=False)[1:-1])
    return {s for s in out if s}


def session_secrets(raw: str) -> list[str]:
    """A stored Bluesky session (JSON) and the tokens inside it."""
    out = [raw]
    try:
        data = json.loads(raw)
    except ValueError:
        return out
    if isinstance(data, dict):
        out += [v for k, v in data.items() if isinstance(v, str) and "jwt" in k.lower()]
    return out


class Redactor:
    """Replaces known secrets, then anything that looks like one, with ``[redacted]``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        long: set[str] = set()
        short: set[str] = set()
        for secret in secrets:
            if not secret or not secret.strip():
                continue
            for s in spellings(secret.strip()):
                (long if len(s) >= MIN_ANYWHERE else short).add(s)
        # Longest first, so a secret that contains another is replaced whole.
        self._long = sorted(long, key=len, reverse=True)
        self._short = (
            re.compile(
                rf"(?<!{_WORD})(?:"
                + "|".join(re.escape(s) for s in sorted(short, key=len, reverse=True))
                + rf")(?!{_WORD})"
            )
            if short
            else None
        )

    def __call__(self, text: str | None) -> str:
        if not text:
            return text or ""
        for secret in self._long:
            if secret in text:
                text = text.replace(secret, REDACTED)
        if self._short is not None:
            text = self._short.sub(REDACTED, text)
        text = self._cut_tail(text)
        for pattern, repl in _PATTERNS:
            text = pattern.sub(repl, text)
        return text

    def _cut_tail(self, text: str) -> str:
        """A message truncated in the middle of a secret still holds its start."""
        body = text.rstrip("…").rstrip(".")
        if len(body) < MIN_TAIL:
            return text
        for secret in self._long:
            # the longest start of `secret` that `body` ends with
            for n in range(min(len(secret) - 1, len(body)), MIN_TAIL - 1, -1):
                if body.endswith(secret[:n]):
                    return body[: len(body) - n] + REDACTED + text[len(body) :]
        return text


def redact(text: str | None, secrets: Iterable[str] = ()) -> str:
    """``text`` without ``secrets`` nor anything that looks like a credential."""
    return Redactor(secrets)(text)


def account_secrets(store: SecretStore, account: str) -> list[str]:
    """Every secret saved for ``account`` (a stored session expanded into its tokens)."""
    prefix = secret_name(account, "")
    out: list[str] = []
    for name in store.names():
        if not name.startswith(prefix):
            continue
        value = store.get(name)
        if value:
            out += session_secrets(value) if name.endswith(":session") else [value]
    return out


def redactor_for(store: SecretStore, account: str) -> Redactor:
    """The redactor for errors from ``account``'s server."""
    try:
        return Redactor(account_secrets(store, account))
    except Exception as exc:  # an unreadable secrets file: the patterns still stand
        # No traceback: it could quote the secrets file.
        log.warning(
            "secrets of %s unreadable (%s): redacting by pattern only",
            account,
            type(exc).__name__,
        )
        return Redactor()
