"""Named destinations: ``[accounts.NAME]`` tables in config.toml, plus the built-in ``atom``.

config.toml is the user's file, so it is edited like a careful human would:
``add`` appends one table at the end, ``remove`` cuts exactly that table's lines
and keeps every other byte.  Secrets (tokens, app passwords, a Bluesky session)
never go in config.toml nor the store: they live in the SecretStore under
``account:NAME:*``.
"""

from __future__ import annotations

import os
import re
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from veille.accounts.secrets import SecretStore
from veille.config import Config, ConfigError, parse_config
from veille.util.atomicfile import write_atomic

KINDS = ("mastodon", "bluesky", "micropub", "command")
ATOM = "atom"  # the built-in destination: your own Atom feed
DEFAULT_BLUESKY_SERVICE = "https://bsky.social"
VISIBILITIES = ("public", "unlisted", "private", "direct")
# Keys an account table may hold, per kind (all strings unless listed in INT_KEYS).
KEYS = {
    "mastodon": {"type", "instance", "visibility", "language", "max_characters", "url_length"},
    "bluesky": {"type", "handle", "service", "language"},
    "micropub": {"type", "endpoint"},
    "command": {"type", "command"},
}
REQUIRED = {
    "mastodon": "instance",
    "bluesky": "handle",
    "micropub": "endpoint",
    "command": "command",
}
INT_KEYS = {"max_characters", "url_length"}
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


class AccountError(Exception):
    """A bad account table or name; the message is one line."""


@dataclass(frozen=True)
class Account:
    """One destination.  ``target`` says where it posts, for lists (never a secret)."""

    name: str
    type: str  # "mastodon" | "bluesky" | "micropub" | "command" | "atom"
    instance: str = ""
    visibility: str = ""
    language: str = ""
    handle: str = ""
    service: str = DEFAULT_BLUESKY_SERVICE
    endpoint: str = ""
    command: str = ""
    path: str = ""  # atom: the file
    max_characters: int | None = None  # mastodon: cached from /api/v2/instance at add time
    url_length: int | None = None

    @property
    def target(self) -> str:
        if self.type == "mastodon":
            return self.instance
        if self.type == "bluesky":
            return f"@{self.handle} on {self.service}"
        if self.type == "micropub":
            return self.endpoint
        if self.type == "command":
            return self.command
        return self.path

    def secret(self, key: str) -> str:
        """The SecretStore name of one of this account's secrets."""
        return secret_name(self.name, key)


def secret_name(account: str, key: str) -> str:
    return f"account:{account}:{key}"


def open_secrets(config_dir: Path) -> SecretStore:
    """The secret store.  With VEILLE_HOME (tests, portable installs) everything stays
    under that folder, so the system keyring is not used."""
    use_keyring = False if os.environ.get("VEILLE_HOME") else None
    return SecretStore(Path(config_dir) / "secrets.json", use_keyring=use_keyring)


def atom_path(config: Config, data_dir: Path) -> Path:
    raw = config["share.atom_path"]
    return Path(raw).expanduser() if raw else Path(data_dir) / "shares.atom"


def _account(name: str, table: Any) -> Account:
    where = f"accounts.{name}"
    if not isinstance(table, dict):
        raise AccountError(f"{where}: expected a table like [accounts.{name}] with a type")
    if name == ATOM:
        raise AccountError(f"{where}: 'atom' is the built-in Atom feed; pick another name")
    kind = table.get("type")
    if kind not in KINDS:
        raise AccountError(
            f"{where}: unknown type {kind!r} (use one of: {', '.join(KINDS)})"
            if kind is not None
            else f"{where}: no type (use one of: {', '.join(KINDS)})"
        )
    for key, value in table.items():
        if key not in KEYS[kind]:
            raise AccountError(f"{where}: unknown key '{key}' for a {kind} account")
        want = int if key in INT_KEYS else str
        if isinstance(value, bool) or not isinstance(value, want):
            raise AccountError(f"{where}.{key}: expected a {want.__name__}")
    required = REQUIRED[kind]
    if not str(table.get(required, "")).strip():
        raise AccountError(f"{where}: a {kind} account needs '{required}'")
    if kind == "mastodon" and table.get("visibility", "public") not in VISIBILITIES:
        raise AccountError(f"{where}.visibility: use one of: {', '.join(VISIBILITIES)}")
    if kind == "command":
        try:
            if not shlex.split(table["command"]):
                raise ValueError("empty")
        except ValueError as exc:
            raise AccountError(f"{where}.command: cannot split it into words ({exc})") from None
    fields = {k: v for k, v in table.items() if k != "type"}
    if kind == "bluesky":
        fields["handle"] = fields["handle"].lstrip("@")
        fields["service"] = (fields.get("service") or DEFAULT_BLUESKY_SERVICE).rstrip("/")
    return Account(name=name, type=kind, **fields)


def load_accounts(config: Config, data_dir: Path) -> dict[str, Account]:
    """Every destination by name: the configured ones, then ``atom`` (always present)."""
    out: dict[str, Account] = {}
    for name, table in (config["accounts"] or {}).items():
        out[name] = _account(name, table)
    out[ATOM] = Account(name=ATOM, type=ATOM, path=str(atom_path(config, data_dir)))
    return out


def default_destinations(config: Config, accounts: dict[str, Account]) -> list[str]:
    """``share.default_to`` when set, else the Atom feed (which always works)."""
    names = [str(n) for n in config["share.default_to"]]
    return names or [ATOM]


# ------------------------------------------------------------- config.toml
def toml_string(value: str) -> str:
    """A TOML basic string; control characters (but tab) and DEL are escaped."""
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif (code < 0x20 and ch != "\t") or code == 0x7F:
            out.append(f"\\u{code:04X}")
        elif 0xD800 <= code <= 0xDFFF:
            raise AccountError("text with a lone surrogate cannot go in config.toml")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else toml_string(key)


def check_name(name: str) -> None:
    if not name or not name.strip():
        raise AccountError("an account needs a name")
    if name != name.strip() or any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise AccountError(f"bad account name {name!r}: no control characters or edge spaces")
    if name == ATOM:
        raise AccountError("'atom' is the built-in Atom feed; pick another name with --name")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def append_account(config_file: Path, name: str, fields: dict[str, Any]) -> None:
    """Add ``[accounts.NAME]`` at the end of config.toml; refuse a name already there."""
    check_name(name)
    text = _read(config_file)
    current = parse_config(text, config_file)["accounts"]
    if name in current:
        raise AccountError(f"an account named '{name}' exists already (see `veille account list`)")
    lines = [f"[accounts.{toml_key(name)}]"]
    for key, value in fields.items():
        if value is None or value == "":
            continue
        rendered = str(value) if isinstance(value, int) else toml_string(str(value))
        lines.append(f"{toml_key(key)} = {rendered}")
    block = "\n".join(lines) + "\n"
    if text and not text.endswith("\n"):
        text += "\n"
    new = text + ("\n" if text.strip() else "") + block
    try:
        after = parse_config(new, config_file)["accounts"]
    except ConfigError as exc:  # an odd existing file (e.g. an inline accounts table)
        raise AccountError(f"cannot add the account to {config_file}: {exc}") from None
    _account(name, after.get(name))
    config_file.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(config_file, new.encode("utf-8"))


def _header_names(line: str) -> dict[str, Any] | None:
    """The keys a ``[table]`` header line opens, or None if it is not one."""
    stripped = line.strip()
    if not stripped.startswith("[") or stripped.startswith("[["):
        return None
    try:
        return tomllib.loads(stripped + "\n")
    except tomllib.TOMLDecodeError:
        return None


def remove_account(config_file: Path, name: str) -> None:
    """Cut the ``[accounts.NAME]`` table (header to the next ``[``); keep all else as is."""
    text = _read(config_file)
    lines = text.splitlines(keepends=True)
    start = None
    for i, line in enumerate(lines):
        if _header_names(line) == {"accounts": {name: {}}}:
            start = i
            break
    if start is None:
        current = parse_config(text, config_file)["accounts"] if text else {}
        if name in current:
            raise AccountError(
                f"account '{name}' is not written as an [accounts.{name}] table in "
                f"{config_file}: remove it by hand"
            )
        raise AccountError(f"no account named '{name}' (see `veille account list`)")
    end = start + 1
    while end < len(lines) and not lines[end].lstrip().startswith("["):
        end += 1
    if end < len(lines):  # comments right above the next header are that header's
        while end > start + 1 and lines[end - 1].lstrip().startswith("#"):
            end -= 1
    else:  # the last table: the blank line `add` put before it goes too
        while start > 0 and not lines[start - 1].strip():
            start -= 1
    new = "".join(lines[:start] + lines[end:])
    try:
        after = parse_config(new, config_file)["accounts"]
    except ConfigError as exc:
        raise AccountError(f"removing '{name}' would break {config_file}: {exc}") from None
    if name in after:
        raise AccountError(f"account '{name}' is also defined elsewhere in {config_file}")
    write_atomic(config_file, new.encode("utf-8"))


def forget_secrets(secrets: SecretStore, name: str) -> int:
    prefix = secret_name(name, "")
    gone = [n for n in secrets.names() if n.startswith(prefix)]
    for n in gone:
        secrets.delete(n)
    return len(gone)


def default_name(kind: str, target: str) -> str:
    """A name from what the account points at: the host, or the Bluesky handle."""
    if kind == "bluesky":
        return target.lstrip("@")
    host = urlsplit(target if "://" in target else "https://" + target).netloc
    return host or target
