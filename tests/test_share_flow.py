"""Accounts and destinations (issue 7): where a share goes is said, chosen and kept;
a second share of an item is noticed; a destination gone keeps its reason."""

from __future__ import annotations

import asyncio
import json
import sys
import tomllib
from pathlib import Path

import feedparser
import pytest
from pytest_httpserver import HTTPServer

from tests.test_share_cli import add_feed
from veille.accounts.config import AccountBook, load_accounts
from veille.accounts.secrets import SecretStore
from veille.config import load_config
from veille.share.outbox import retry, send_pending
from veille.store.lock import ProcessLock
from veille.store.store import Store


@pytest.fixture
def items(cli, httpserver: HTTPServer) -> list[dict]:
    return add_feed(cli, httpserver)


def config_file(home: Path) -> Path:
    return home / "config" / "config.toml"


def hook(tmp_path: Path, name: str = "hook", fail: str | None = None) -> str:
    """A command destination that prints a URL, or fails with `fail` on stderr."""
    script = tmp_path / f"{name}.py"
    if fail:
        script.write_text(f"import sys\nsys.stderr.write({fail!r} + '\\n'); sys.exit(3)\n")
    else:
        script.write_text("import sys\nsys.stdin.read(); print('https://hooks.example/p/1')\n")
    return f"{sys.executable} {script}"


# --- where shares go ----------------------------------------------------------------------


def test_account_add_says_shares_still_go_to_atom(cli, items, tmp_path: Path) -> None:
    r = cli("account", "add", "command", "hook", "--command", hook(tmp_path))
    assert r.code == 0, r.err
    assert "shares still go to atom by default" in r.out and "--to hook" in r.out
    dry = cli("share", items[0]["id"], "--comment", "x", "--dry-run")
    assert dry.lines[0].startswith("goes to: atom (your Atom feed")
    assert "not to: hook" in dry.lines[0]
    (header,) = [ln for ln in dry.lines if ln.startswith("── ")]
    assert header.startswith("── atom  ") and header.endswith(" chars")


def test_account_add_default_keeps_atom_and_the_users_comments(
    cli, items, home: Path, tmp_path: Path
) -> None:
    config_file(home).parent.mkdir(parents=True, exist_ok=True)
    config_file(home).write_text('[share]\nauthor = "Ana"  # me\n')
    r = cli("account", "add", "command", "hook", "--command", hook(tmp_path), "--default")
    assert r.code == 0, r.err
    assert "shares now go to atom, hook by default (share.default_to)" in r.out
    text = config_file(home).read_text()
    assert 'author = "Ana"  # me' in text
    assert tomllib.loads(text)["share"]["default_to"] == ["atom", "hook"]
    dry = cli("share", items[0]["id"], "--comment", "x", "--dry-run")
    assert dry.lines[0] == "goes to: atom, hook (share.default_to)"
    shared = cli("share", items[0]["id"], "--comment", "Both at once")
    assert "hook  sent https://hooks.example/p/1" in shared.out and "atom  sent" in shared.out
    # Removing the account takes it out of the defaults too: sharing keeps working.
    assert cli("account", "remove", "hook").code == 0
    assert tomllib.loads(config_file(home).read_text())["share"]["default_to"] == ["atom"]
    again = cli("share", items[1]["id"], "--comment", "After removal")
    assert again.code == 0, again.err


def test_account_default_on_and_off(cli, items, home: Path, tmp_path: Path) -> None:
    r = cli("account", "add", "command", "hook", "--command", hook(tmp_path), "--no-default")
    assert "shares still go to atom" in r.out
    assert "default_to" not in config_file(home).read_text()
    assert "atom, hook" in cli("account", "default", "hook").out
    assert "* hook" in cli("account", "list").out
    off = cli("account", "default", "hook", "--off")
    assert off.out.strip() == "shares now go to atom by default (share.default_to)"
    assert cli("account", "default", "nobody").code == 1


# --- sharing an item twice ----------------------------------------------------------------


def test_second_share_of_an_item_is_warned_and_needs_again(cli, items) -> None:
    first = cli("share", items[0]["id"], "--comment", "First thoughts")
    assert first.code == 0, first.err
    (row,) = [json.loads(line) for line in cli("shares", "--json").lines]
    second = cli("share", items[0]["id"], "--comment", "Second thoughts")
    assert second.code == 1 and second.err.count("\n") == 1
    assert f"you shared this item already: {row['id']} on {row['created'][:10]}" in second.err
    assert "“First thoughts”" in second.err and "--again" in second.err
    assert len(cli("shares", "--json").lines) == 1  # nothing saved
    dry = cli("share", items[0]["id"], "--comment", "Second thoughts", "--dry-run")
    assert dry.code == 0 and "shared this item already" in dry.err
    again = cli("share", items[0]["id"], "--comment", "Second thoughts", "--again")
    assert again.code == 0, again.err
    assert len(cli("shares", "--json").lines) == 2
    # The digest keeps one entry for the item, with both comments in the order written.
    digest = cli("digest", "--since", "1d").out
    assert digest.count(items[0]["title"]) == 1
    assert digest.index("First thoughts") < digest.index("Second thoughts")


def test_earlier_shares_for_the_composer(cli, items, home: Path) -> None:
    from veille.share.plan import earlier_shares

    assert cli("share", items[1]["id"], "--comment", "once").code == 0
    with Store(home / "data" / "store") as store:
        (earlier,) = earlier_shares(store, items[1]["id"])
        assert earlier.comment == "once"
        assert earlier_shares(store, items[1]["id"], exclude=earlier.id) == []
        assert earlier_shares(store, items[0]["id"]) == []


# --- a destination that is gone -----------------------------------------------------------


def test_retry_to_a_removed_destination_keeps_the_reason(cli, items, tmp_path: Path) -> None:
    add = cli("account", "add", "command", "logger", "--command", hook(tmp_path, fail="quota"))
    assert add.code == 0, add.err
    r = cli("share", items[0]["id"], "--comment", "x", "--to", "logger")
    assert "logger  failed: the command exited with status 3: quota" in r.out
    (row,) = [json.loads(line) for line in cli("shares", "--json").lines]
    assert cli("account", "remove", "logger").code == 0
    again = cli("share", row["id"], "--retry")
    assert again.code == 1
    line = next(ln for ln in again.lines if "logger" in ln)
    assert "failed: the command exited with status 3: quota" in line
    assert "the destination 'logger' is not configured any more" in line
    (d,) = json.loads(cli("shares", "--json").lines[0])["deliveries"]
    assert d["status"] == "failed" and d["error"] == "the command exited with status 3: quota"
    assert d["notice"].startswith("the destination 'logger' is not configured any more")


def test_a_running_app_sees_an_account_added_since(cli, items, home: Path, tmp_path: Path) -> None:
    """The app holds the config and accounts it started with; `veille account add` in
    another terminal must not make its sends fail with "no such destination"."""
    at_start = load_accounts(load_config(config_file(home)), home / "data")
    config_at_start = load_config(config_file(home))
    book = AccountBook(config_file(home), home / "data")
    assert set(book.accounts()) == {"atom"} and not book.changed()
    assert cli("account", "add", "command", "hook", "--command", hook(tmp_path)).code == 0
    assert book.changed() and set(book.accounts()) == {"atom", "hook"}
    assert set(load_accounts(config_file(home), home / "data")) == {"atom", "hook"}
    r = cli("share", items[0]["id"], "--comment", "x", "--to", "hook", "--no-send")
    assert r.code == 0, r.err
    (row,) = [json.loads(line) for line in cli("shares", "--json").lines]
    secrets = SecretStore(home / "config" / "secrets.json", use_keyring=False)
    with Store(home / "data" / "store") as store:
        retry(store, config_at_start, row["id"], accounts=at_start)
        done = asyncio.run(send_pending(store, config_at_start, secrets, accounts=at_start))
        assert [(name, d.status, d.url) for _, name, d in done] == [
            ("hook", "sent", "https://hooks.example/p/1")
        ]


# --- a send cut off -----------------------------------------------------------------------


def test_sending_cut_off_says_veille_send_finishes_it(cli, items, home: Path) -> None:
    assert cli("share", items[0]["id"], "--comment", "x", "--no-send").code == 0
    with Store(home / "data" / "store") as store:
        (share,) = store.shares()
        share.deliveries["atom"].status = "sending"  # as `kill -9` mid-request leaves it
        store.put_share(share)
    shown = cli("shares").out
    assert "atom: sending was cut off (veille stopped mid-way): `veille send` will finish it" in (
        shown
    )
    with ProcessLock(home / "data" / "store" / ".outbox.lock"):  # a send going on right now
        assert "atom: sending\n" in cli("shares").out
    assert "atom  sent" in cli("send").out


# --- the Atom feed --------------------------------------------------------------------------


def test_atom_feed_public_url_and_via_the_website(cli, items, home: Path) -> None:
    config_file(home).parent.mkdir(parents=True, exist_ok=True)
    config_file(home).write_text('[share]\natom_url = "https://me.example/shares.atom"\n')
    r = cli("share", items[0]["id"], "--comment", "Public now")
    assert "atom  sent https://me.example/shares.atom" in r.out
    parsed = feedparser.parse((home / "data" / "shares.atom").read_bytes())
    assert parsed.bozo == 0
    assert parsed.feed.id == "https://me.example/shares.atom"
    assert [link.href for link in parsed.feed.links if link.rel == "self"] == [
        "https://me.example/shares.atom"
    ]
    content = parsed.entries[0].content[0].value
    assert '<a href="https://example.com/">via Example Blog</a>' in content  # the site
    assert parsed.entries[0].source.links[0].href.endswith("/feed.xml")  # source: the feed


# --- questions asked on a terminal ----------------------------------------------------------


def run_on_a_tty(home: Path, args: list[str], answers: dict[str, str]) -> tuple[int, str, str]:
    """`veille ARGS` with stdin and stderr on a pseudo-terminal; each prompt (a key of
    `answers` seen on the terminal) gets its answer typed.  Returns (code, out, terminal)."""
    import os
    import select
    import subprocess
    import time

    master, slave = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "veille", *args],
        stdin=slave,
        stderr=slave,
        stdout=subprocess.PIPE,
        env={**os.environ, "VEILLE_HOME": str(home)},
    )
    os.close(slave)
    seen, pending = "", dict(answers)
    deadline = time.monotonic() + 60
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(master, 4096).decode("utf-8", "replace")
                except OSError:
                    break
            for prompt in [p for p in pending if p in seen]:
                os.write(master, (pending.pop(prompt) + "\n").encode())
        out = proc.communicate(timeout=30)[0].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return proc.returncode, out, seen


def test_terminal_questions(cli, items, home: Path, tmp_path: Path) -> None:
    code, out, tty = run_on_a_tty(
        home,
        ["account", "add", "command", "hook", "--command", hook(tmp_path)],
        {"by default? [y/N]": "y"},
    )
    assert code == 0, tty
    assert "Shares go to atom unless you say --to. Send them to hook too" in tty
    assert "shares now go to atom, hook by default" in out
    assert cli("share", items[0]["id"], "--comment", "first").code == 0
    code, out, tty = run_on_a_tty(
        home, ["share", items[0]["id"], "--comment", "again?"], {"Share it again? [y/N]": "n"}
    )
    assert code == 1 and "you shared this item already" in tty and "not shared" in out
    assert len(cli("shares", "--json").lines) == 1
    code, out, tty = run_on_a_tty(
        home, ["share", items[0]["id"], "--comment", "again!"], {"Share it again? [y/N]": "y"}
    )
    assert code == 0 and "hook  sent" in out
    assert len(cli("shares", "--json").lines) == 2
