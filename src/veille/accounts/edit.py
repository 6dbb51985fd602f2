"""Editing config.toml's accounts: ``account add`` appends one ``[accounts.NAME]``
table, ``account remove`` cuts exactly that table (the comments just above the
next table stay with it), and the ``share.default_to`` list is edited in place.

config.toml is the user's file, so it is edited with tomlkit, which keeps every
comment, blank line and quoting style it does not have to touch; every edit is
checked to be a valid config before it is written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.exceptions
from tomlkit.items import AoT, Array, InlineTable, Table
from tomlkit.toml_document import TOMLDocument

from veille.accounts.config import ATOM, AccountError, account_from_table
from veille.config import ConfigError, parse_config
from veille.util.atomicfile import write_atomic


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
    account_from_table(name, clean)  # the table must load once written

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
