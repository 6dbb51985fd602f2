"""Named destinations: ``[accounts.NAME]`` tables in config.toml, plus the built-in ``atom``.

config.toml is the user's file, so it is edited with tomlkit, which keeps every
comment, blank line and quoting style it does not have to touch: ``add``
appends one table, ``remove`` cuts exactly that table (the comments just above
the next table stay with it), and the ``share.default_to`` list is edited in
place.  Secrets (tokens, app passwords, a Bluesky session) never go in
config.toml nor the store: they live in the SecretStore under ``account:NAME:*``.

``load_accounts`` is cheap (no network): the app may call it again whenever
config.toml changes, and ``AccountBook`` does exactly that on a stat.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import tomlkit
import tomlkit.exceptions
from tomlkit.items import AoT, Array, InlineTable, Table
from tomlkit.toml_document import TOMLDocument

from veille.accounts.secrets import SecretStore
from veille.config import Config, ConfigError, load_config, parse_config
from veille.domain.errors import VeilleError
from veille.util.atomicfile import write_atomic
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


def _account(name: str, table: Any) -> Account:
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
        out[name] = _account(name, table)
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


# ------------------------------------------------------------- config.toml
def toml_string(value: str) -> str:
    """A TOML basic string; control characters (but tab) and DEL are escaped."""
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise AccountError("text with a lone surrogate cannot go in config.toml")
    return tomlkit.string(value).as_string()


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
    except (OSError, UnicodeDecodeError) as exc:
        raise AccountError(f"cannot read {path}: {exc}") from None


def _parse(text: str, path: Path) -> TOMLDocument:
    parse_config(text, path)  # our own checks first: one line naming the key
    try:
        return tomlkit.parse(text)
    except tomlkit.exceptions.TOMLKitError as exc:  # pragma: no cover - tomllib took it
        raise AccountError(f"{path}: {exc}") from None


def _edit(path: Path, change: Callable[[TOMLDocument], None], *, what: str) -> str:
    """Apply ``change`` to config.toml, check the result is a valid config, write it."""
    text = _read(path)
    try:
        doc = _parse(text, path)
    except ConfigError as exc:
        raise AccountError(f"cannot {what}: fix {path} first: {exc}") from None
    try:
        change(doc)
    except (tomlkit.exceptions.TOMLKitError, ValueError, TypeError) as exc:
        raise AccountError(f"cannot {what} in {path}: {exc}") from None
    new = tomlkit.dumps(doc)
    try:
        parse_config(new, path)
    except ConfigError as exc:
        raise AccountError(f"cannot {what}: the result would break {path}: {exc}") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, new.encode("utf-8"))
    return new


def _plain(value: Any) -> Any:
    return value.unwrap() if hasattr(value, "unwrap") else value


def append_account(config_file: Path, name: str, fields: dict[str, Any]) -> None:
    """Add ``[accounts.NAME]`` at the end of the accounts; refuse a name already there."""
    check_name(name)
    clean = {k: v for k, v in fields.items() if v is not None and v != ""}
    for value in clean.values():
        if isinstance(value, str):
            toml_string(value)  # a lone surrogate is refused with one line
    _account(name, clean)  # the table must load once written

    def change(doc: TOMLDocument) -> None:
        accounts = doc.get("accounts")
        if accounts is None:
            accounts = tomlkit.table(is_super_table=True)
            doc.append("accounts", accounts)
        if isinstance(accounts, InlineTable) or not isinstance(accounts, Table):
            raise ValueError("[accounts] is written inline; turn it into [accounts.NAME] tables")
        if name in accounts:
            raise AccountError(
                f"an account named '{name}' exists already (see `veille account list`)"
            )
        table = tomlkit.table()
        for key, value in clean.items():
            table.append(key, value)
        last = list(doc.keys())[-1] if doc else None
        if last != "accounts":  # something follows: keep a blank line before it
            table.append(None, tomlkit.nl())
        accounts.append(name, table)

    _edit(config_file, change, what=f"add the account '{name}'")


def _keep_next_header_comments(old: str, new: str) -> str:
    """tomlkit counts the comments right above a table header as the end of the table
    before; when that one is cut, put them back: they describe the next table."""
    n = 0
    limit = min(len(old), len(new))
    while n < limit and old[n] == new[n]:
        n += 1
    head, tail = new[:n], new[n:]
    if not old.endswith(tail):
        return new  # not one contiguous cut: leave tomlkit's result as it is
    cut = old[n : len(old) - len(tail)]
    while head and not head.endswith("\n") and cut.endswith(head[-1]):
        # Slide the cut left until it starts a line: same text, other alignment.
        cut, head, tail = head[-1] + cut[:-1], head[:-1], cut[-1] + tail
    if not tail.strip():
        # The last table went: no blank lines left dangling at the end of the file.
        return head.rstrip("\n") + "\n" if head.strip() else ""
    lines = cut.splitlines(keepends=True)
    kept: list[str] = []
    while lines and lines[-1].lstrip().startswith("#"):
        kept.insert(0, lines.pop())
    return head + "".join(kept) + tail


def remove_account(config_file: Path, name: str) -> None:
    """Cut the ``[accounts.NAME]`` table and its name in ``share.default_to``; keep all else."""
    text = _read(config_file)
    try:
        doc = _parse(text, config_file)
    except ConfigError as exc:
        raise AccountError(f"cannot remove '{name}': fix {config_file} first: {exc}") from None
    accounts = doc.get("accounts")
    if not isinstance(accounts, dict) or name not in accounts:
        raise AccountError(f"no account named '{name}' (see `veille account list`)")
    del accounts[name]
    if isinstance(accounts, Table) and accounts.is_super_table() and not accounts:
        del doc["accounts"]
    _drop_default(doc, name)
    new = _keep_next_header_comments(text, tomlkit.dumps(doc))
    try:
        after = parse_config(new, config_file)["accounts"]
    except ConfigError as exc:
        raise AccountError(f"removing '{name}' would break {config_file}: {exc}") from None
    if name in after:
        raise AccountError(f"account '{name}' is also defined elsewhere in {config_file}")
    write_atomic(config_file, new.encode("utf-8"))


def _default_array(doc: TOMLDocument, create: bool) -> Array | None:
    share = doc.get("share")
    if share is None:
        if not create:
            return None
        share = tomlkit.table()
        doc.append("share", share)
    if not isinstance(share, dict) or isinstance(share, AoT):
        raise ValueError("[share] is not a table")
    current = share.get("default_to")
    if current is None:
        if not create:
            return None
        share["default_to"] = tomlkit.array()
        current = share["default_to"]
    if not isinstance(current, Array):
        raise ValueError("share.default_to is not a list")
    return current


def _drop_default(doc: TOMLDocument, name: str) -> None:
    array = _default_array(doc, create=False)
    if array is not None:
        for value in [v for v in array if _plain(v) == name]:
            array.remove(value)


def add_default(config_file: Path, name: str) -> list[str]:
    """Make ``name`` a default destination; returns the defaults now in force.

    With no ``share.default_to`` the Atom feed was the default: it stays one,
    so adding an account never silently stops your own feed.
    """
    result: list[str] = []

    def change(doc: TOMLDocument) -> None:
        array = _default_array(doc, create=True)
        assert array is not None
        names = [str(_plain(v)) for v in array]
        if not names:
            array.append(ATOM)
            names.append(ATOM)
        if name not in names:
            array.append(name)
            names.append(name)
        result[:] = names

    _edit(config_file, change, what=f"make '{name}' a default destination")
    return result


def remove_default(config_file: Path, name: str) -> None:
    """Take ``name`` out of ``share.default_to`` (nothing else changes)."""
    _edit(config_file, lambda doc: _drop_default(doc, name), what=f"stop sharing to '{name}'")


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
