"""Tokens and app passwords: in the system keyring when there is a usable one,
else in a JSON file only its owner can read (0600, parent 0700 if we make it).

``keyring`` is an optional extra (``pip install 'veille[keyring]'``): it is used
when importable and backed by a real store (not its "fail" or "null" backends).
A keyring cannot list what it holds, so the file keeps the *names* of keyring
entries (never values), and ``names()`` can answer.  A file found readable by
others is tightened to 0600 the first time the store is used, and that goes
to the log (never with a value), rather than refusing: the secret is already
exposed, and refusing would only lock the user out.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
from pathlib import Path
from typing import Any

from veille.domain.errors import VeilleError
from veille.util.atomicfile import write_atomic

log = logging.getLogger(__name__)

SERVICE = "veille"


def _usable_keyring() -> Any | None:
    """The keyring module if its backend can really store secrets, else None."""
    try:
        import keyring
    except ImportError:  # veille[keyring] not installed: the file it is
        return None
    try:
        backend = keyring.get_keyring()
        module = type(backend).__module__
        if module.endswith((".fail", ".null")):
            return None
        if float(getattr(backend, "priority", 1)) <= 0:
            return None
    except Exception:  # a broken backend: the file is used, the log says why
        log.warning("the system keyring is not usable; secrets go to the file", exc_info=True)
        return None
    return keyring


class SecretsError(VeilleError, ValueError):
    """The secrets file is there but cannot be read as one; nothing is overwritten."""


class SecretStore:
    """Named secrets; ``use_keyring=None`` means "if a usable one is there"."""

    def __init__(self, file: Path, use_keyring: bool | None = None) -> None:
        self.file = Path(file)
        self._keyring = _usable_keyring() if use_keyring in (None, True) else None
        if use_keyring is True and self._keyring is None:
            log.warning("no usable system keyring; secrets go to %s", self.file)
        self._checked = False

    @property
    def backend(self) -> str:
        return "keyring" if self._keyring is not None else "file"

    def __repr__(self) -> str:
        return f"SecretStore(file={str(self.file)!r}, backend={self.backend!r})"

    # --- the file ---------------------------------------------------------

    def _tighten(self, fd: int) -> None:
        """Set a group- or world-readable file back to 0600, and log it (no value)."""
        mode = os.fstat(fd).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning(
                "%s was readable by others (mode %o); set to 0600",
                self.file,
                stat.S_IMODE(mode),
            )
            try:
                os.fchmod(fd, 0o600)
            except OSError as e:  # not ours to change: say so, still read it
                log.warning("could not restrict %s: %s", self.file, e)

    def _check_mode(self) -> None:
        """Once per store: the keyring path may never read the file, yet it must be 0600."""
        if self._checked:
            return
        self._checked = True
        try:
            fd = os.open(self.file, os.O_RDONLY)
        except OSError:
            return
        try:
            self._tighten(fd)
        finally:
            os.close(fd)

    def _load(self) -> dict[str, Any]:
        try:
            fd = os.open(self.file, os.O_RDONLY)
        except FileNotFoundError:
            self._checked = True
            return {"secrets": {}, "keyring": []}
        with os.fdopen(fd, "rb") as f:
            self._tighten(f.fileno())
            self._checked = True
            raw = f.read()
        try:
            data = json.loads(raw or b"{}")
        except ValueError as e:
            raise SecretsError(f"{self.file}: not a secrets file ({e})") from None
        if not isinstance(data, dict):
            raise SecretsError(f"{self.file}: not a secrets file")
        secrets = data.get("secrets")
        names = data.get("keyring")
        return {
            "secrets": {str(k): str(v) for k, v in secrets.items()}
            if isinstance(secrets, dict)
            else {},
            "keyring": [str(n) for n in names] if isinstance(names, list) else [],
        }

    def _save(self, data: dict[str, Any]) -> None:
        parent = self.file.parent
        if not parent.exists():
            parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(parent, 0o700)  # mkdir's mode is masked by the umask
        # The temp file is created 0600 (mkstemp) and renamed over: never readable by others.
        write_atomic(self.file, json.dumps(data, indent=1, sort_keys=True).encode(), mode=0o600)

    # --- the API ----------------------------------------------------------

    def get(self, name: str) -> str | None:
        self._check_mode()
        if self._keyring is not None:
            try:
                value = self._keyring.get_password(SERVICE, name)
            except Exception as e:  # locked or gone away: fall back to the file
                log.warning("keyring read of %r failed: %s", name, e, exc_info=True)
                value = None
            if isinstance(value, str):
                return value
        stored = self._load()["secrets"].get(name)
        return stored if isinstance(stored, str) else None

    def set(self, name: str, value: str) -> None:
        if not name:
            raise ValueError("a secret needs a name")
        data = self._load()
        if self._keyring is not None:
            try:
                self._keyring.set_password(SERVICE, name, value)
            except Exception as e:
                log.warning(
                    "keyring write of %r failed (%s); using %s", name, e, self.file, exc_info=True
                )
            else:
                data["secrets"].pop(name, None)
                if name not in data["keyring"]:
                    data["keyring"].append(name)
                self._save(data)
                return
        data["secrets"][name] = value
        self._save(data)

    def delete(self, name: str) -> None:
        """Forget ``name`` wherever it is; no error if it was not there."""
        if self._keyring is not None:
            with contextlib.suppress(Exception):  # PasswordDeleteError when absent
                self._keyring.delete_password(SERVICE, name)
        data = self._load()
        found = data["secrets"].pop(name, None) is not None
        if name in data["keyring"]:
            data["keyring"].remove(name)
            found = True
        if found:
            self._save(data)

    def names(self) -> list[str]:
        data = self._load()
        return sorted(set(data["secrets"]) | set(data["keyring"]))
