"""SecretStore: a 0600 JSON file, or the system keyring when a usable one is there."""

from __future__ import annotations

import json
import logging
import stat
import sys
import types
from pathlib import Path

import pytest

from veille.accounts.secrets import SERVICE, SecretStore

TOKEN = "s3cr3t-T0KEN-value"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_file_round_trip_and_modes(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "secrets.json"
    store = SecretStore(path, use_keyring=False)
    assert store.backend == "file"
    assert store.get("mastodon.social") is None
    store.set("mastodon.social", TOKEN)
    store.set("bsky", "app-pass")
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700  # we made it
    assert SecretStore(path, use_keyring=False).get("mastodon.social") == TOKEN
    assert store.names() == ["bsky", "mastodon.social"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["secrets.json"]  # no temp left


def test_existing_parent_mode_untouched(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    SecretStore(tmp_path / "secrets.json", use_keyring=False).set("a", "b")
    assert mode(tmp_path) == 0o755


def test_overwrite_and_delete(tmp_path: Path) -> None:
    store = SecretStore(tmp_path / "secrets.json", use_keyring=False)
    store.set("a", "1")
    store.set("a", "2")
    assert store.get("a") == "2"
    store.delete("a")
    store.delete("never-there")  # no error
    assert store.get("a") is None and store.names() == []
    assert mode(tmp_path / "secrets.json") == 0o600


def test_repr_shows_no_secret(tmp_path: Path) -> None:
    store = SecretStore(tmp_path / "secrets.json", use_keyring=False)
    store.set("mastodon.social", TOKEN)
    assert TOKEN not in repr(store) and TOKEN not in str(store)
    assert "secrets.json" in repr(store)


def test_loose_mode_is_tightened_with_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({"secrets": {"a": TOKEN}}))
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        assert SecretStore(path, use_keyring=False).get("a") == TOKEN
    assert mode(path) == 0o600
    assert "readable by others" in caplog.text and TOKEN not in caplog.text


def test_corrupt_file_is_an_error_not_a_wipe(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not a secrets file"):
        SecretStore(path, use_keyring=False).set("a", "b")
    assert path.read_text() == "{not json"


class _FakeBackend:
    priority = 5


class _FailBackend:
    priority = 0


def _fake_keyring(backend: object) -> types.ModuleType:
    mod = types.ModuleType("keyring")
    vault: dict[tuple[str, str], str] = {}
    mod.vault = vault  # type: ignore[attr-defined]
    mod.get_keyring = lambda: backend  # type: ignore[attr-defined]
    mod.get_password = lambda s, n: vault.get((s, n))  # type: ignore[attr-defined]
    mod.set_password = lambda s, n, v: vault.__setitem__((s, n), v)  # type: ignore[attr-defined]

    def delete_password(s: str, n: str) -> None:
        if (s, n) not in vault:
            raise KeyError(n)  # keyring raises PasswordDeleteError
        del vault[(s, n)]

    mod.delete_password = delete_password  # type: ignore[attr-defined]
    return mod


def test_keyring_used_when_usable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _fake_keyring(_FakeBackend())
    monkeypatch.setitem(sys.modules, "keyring", fake)
    path = tmp_path / "secrets.json"
    store = SecretStore(path)
    assert store.backend == "keyring"
    store.set("bsky", TOKEN)
    assert fake.vault == {(SERVICE, "bsky"): TOKEN}  # type: ignore[attr-defined]
    assert TOKEN not in path.read_text()  # the file only lists the name
    assert store.names() == ["bsky"] and store.get("bsky") == TOKEN
    store.delete("bsky")
    assert fake.vault == {} and store.names() == []  # type: ignore[attr-defined]


def test_fail_backend_or_opt_out_uses_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "keyring", _fake_keyring(_FailBackend()))
    assert SecretStore(tmp_path / "a.json").backend == "file"
    monkeypatch.setitem(sys.modules, "keyring", _fake_keyring(_FakeBackend()))
    store = SecretStore(tmp_path / "b.json", use_keyring=False)
    store.set("x", TOKEN)
    assert store.backend == "file" and TOKEN in (tmp_path / "b.json").read_text()


def test_no_keyring_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)  # import raises ImportError
    store = SecretStore(tmp_path / "secrets.json", use_keyring=True)
    store.set("a", "b")
    assert store.backend == "file" and store.get("a") == "b"


def test_loose_file_tightened_even_when_the_keyring_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """With a keyring the file only lists names and is never read by get(): it must be
    set back to 0600 all the same, the first time the store is used."""
    fake = _fake_keyring(_FakeBackend())
    monkeypatch.setitem(sys.modules, "keyring", fake)
    path = tmp_path / "secrets.json"
    store = SecretStore(path)
    store.set("bsky", TOKEN)
    path.chmod(0o664)
    with caplog.at_level(logging.WARNING):
        assert SecretStore(path).get("bsky") == TOKEN
    assert mode(path) == 0o600
    assert "readable by others" in caplog.text and TOKEN not in caplog.text


def test_saving_keeps_0600_over_a_loose_file(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({"secrets": {"a": TOKEN}}))
    path.chmod(0o666)
    SecretStore(path, use_keyring=False).set("b", "other")
    assert mode(path) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secrets.json"]  # no temp left


def test_loose_file_found_by_a_command_is_logged_not_printed(cli, home: Path, httpserver) -> None:
    from tests.test_share_cli import add_feed

    items = add_feed(cli, httpserver)
    path = home / "config" / "secrets.json"
    SecretStore(path, use_keyring=False).set("account:old:token", TOKEN)
    path.chmod(0o644)
    r = cli("share", items[0]["id"], "--comment", "hello")
    assert r.code == 0, r.err
    assert mode(path) == 0o600
    assert "readable by others" not in r.out + r.err and TOKEN not in r.out + r.err
    log = (home / "state" / "veille.log").read_text()
    assert "readable by others (mode 644); set to 0600" in log and TOKEN not in log
