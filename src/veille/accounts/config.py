"""Named destinations: ``[accounts.NAME]`` tables in config.toml, plus the built-in ``atom``.

Reading them is here; editing config.toml (``account add`` and ``remove``, the
``share.default_to`` list) is :mod:`veille.accounts.edit`, so reading never
loads tomlkit (the app's start-up).  Secrets (tokens, app passwords, a Bluesky session) never go in
config.toml nor the store: they live in the SecretStore under ``account:NAME:*``.

``load_accounts`` is cheap (no network): the app may call it again whenever
config.toml changes, and ``AccountBook`` does exactly that on a stat.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from veille.accounts.secrets import SecretStore
from veille.config import Config, ConfigError, load_config
from veille.domain.errors import VeilleError
from veille.util.urls import UrlError, http_url

ATOM = "atom"  # the built-in destination: your own Atom feed
DEFAULT_BLUESKY_SERVICE = "https://bsky.social"
VISIBILITIES = ("public", "unlisted", "private", "direct")
INT_KEYS = {"max_characters", "url_length"}
#: Keys that name a server: checked when the file is read, so a typo is one line
#: naming the key, not an error from the HTTP library at the first share.
URL_KEYS = frozenset({"instance", "service", "endpoint"})


@dataclass(frozen=True)
class AccountKind:
    """What an ``[accounts.NAME]`` table of one ``type`` may hold (strings unless INT_KEYS)."""

    keys: frozenset[str]
    required: str


#: The one list of account types.  The share registry
#: (veille.share.destinations.REGISTRY) has a destination for each, plus ``atom``.
ACCOUNT_KINDS: dict[str, AccountKind] = {
    "mastodon": AccountKind(
        frozenset({"type", "instance", "visibility", "language", "max_characters", "url_length"}),
        "instance",
    ),
    "bluesky": AccountKind(frozenset({"type", "handle", "service", "language"}), "handle"),
    "micropub": AccountKind(frozenset({"type", "endpoint"}), "endpoint"),
    "command": AccountKind(frozenset({"type", "command"}), "command"),
}
KINDS = tuple(ACCOUNT_KINDS)


class AccountError(VeilleError):
    """A bad account table or name, or config.toml that cannot take an edit; one line."""


@dataclass(frozen=True)
class Account:
    """One destination.  ``target`` says where it posts, for lists (never a secret)."""

    name: str
    type: str  # one of ACCOUNT_KINDS, or "atom"
    instance: str = ""
    visibility: str = ""
    language: str = ""
    handle: str = ""
    service: str = DEFAULT_BLUESKY_SERVICE
    endpoint: str = ""
    command: str = ""
    path: str = ""  # atom: the file
    url: str = ""  # atom: its public URL (share.atom_url), if it is published
    max_characters: int | None = None  # mastodon: the user's override of the instance's
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
        return self.url or self.path

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


def _kinds_list() -> str:
    return ", ".join(KINDS)


def account_from_table(name: str, table: Any) -> Account:
    where = f"accounts.{name}"
    if not isinstance(table, dict):
        raise AccountError(f"{where}: expected a table like [accounts.{name}] with a type")
    if name == ATOM:
        raise AccountError(f"{where}: 'atom' is the built-in Atom feed; pick another name")
    kind = table.get("type")
    spec = ACCOUNT_KINDS.get(kind) if isinstance(kind, str) else None
    if spec is None:
        raise AccountError(
            f"{where}: unknown type {kind!r} (use one of: {_kinds_list()})"
            if kind is not None
            else f"{where}: no type (use one of: {_kinds_list()})"
        )
    for key, value in table.items():
        if key not in spec.keys:
            raise AccountError(f"{where}: unknown key '{key}' for a {kind} account")
        want = int if key in INT_KEYS else str
        if isinstance(value, bool) or not isinstance(value, want):
            raise AccountError(f"{where}.{key}: expected a {want.__name__}")
    if not str(table.get(spec.required, "")).strip():
        raise AccountError(f"{where}: a {kind} account needs '{spec.required}'")
    for key in URL_KEYS & table.keys():
        try:
            http_url(table[key])
        except UrlError as exc:
            raise AccountError(f"{where}.{key}: {exc}") from None
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
    return Account(name=name, type=str(kind), **fields)


def load_accounts(config: Config | Path, data_dir: Path) -> dict[str, Account]:
    """Every destination by name: the configured ones, then ``atom`` (always present).

    ``config`` may be the path of config.toml, read afresh (cheap, no network):
    what the app calls when the file changed under it, e.g. after
    `veille account add` in another terminal.
    """
    if isinstance(config, Path):
        try:
            config = load_config(config)
        except ConfigError as exc:
            raise AccountError(str(exc)) from None
    out: dict[str, Account] = {}
    for name, table in (config["accounts"] or {}).items():
        out[name] = account_from_table(name, table)
    out[ATOM] = Account(
        name=ATOM,
        type=ATOM,
        path=str(atom_path(config, data_dir)),
        url=str(config.get("share.atom_url") or ""),
    )
    return out


def fresh_config(config: Config) -> Config:
    """``config`` as config.toml says now, when it came from a file; else ``config``.

    A long-running app holds the config it started with; the outbox reads the
    file again (a stat and a small parse) so an account added since is seen.
    A file that became invalid keeps the old config: the app must not stop
    sharing because of a half-saved edit.
    """
    if config.path is None:
        return config
    try:
        return load_config(config.path)
    except ConfigError:
        return config


class AccountBook:
    """The accounts of one config.toml, re-read only when the file changed (a stat).

    For the app: ``book.accounts()`` whenever the composer or the Shares view
    needs them; an account added or removed from the command line shows up.
    """

    def __init__(self, config_file: Path, data_dir: Path) -> None:
        self.config_file = Path(config_file)
        self.data_dir = Path(data_dir)
        self._stamp: tuple[int, int, int] | None = None
        self._config: Config | None = None
        self._accounts: dict[str, Account] | None = None

    def _now_stamp(self) -> tuple[int, int, int]:
        try:
            st = self.config_file.stat()
        except OSError:
            return (0, 0, 0)
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def changed(self) -> bool:
        """Whether config.toml changed since the accounts were last read."""
        return self._accounts is None or self._now_stamp() != self._stamp

    def accounts(self) -> dict[str, Account]:
        """The current accounts; raises AccountError for a broken table (say it, keep atom)."""
        if self.changed():
            stamp = self._now_stamp()
            try:
                config = load_config(self.config_file)
            except ConfigError as exc:
                raise AccountError(str(exc)) from None
            self._accounts = load_accounts(config, self.data_dir)
            self._config, self._stamp = config, stamp
        assert self._accounts is not None
        return dict(self._accounts)

    def config(self) -> Config:
        """The config these accounts were read from."""
        self.accounts()
        assert self._config is not None
        return self._config


def default_destinations(config: Config, accounts: dict[str, Account] | None = None) -> list[str]:
    """``share.default_to`` when set, else the Atom feed (which always works)."""
    del accounts  # the names are checked where they are used
    names = [str(n) for n in config["share.default_to"]]
    return names or [ATOM]


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
