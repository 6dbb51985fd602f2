"""`veille add` for social sources and the addresses people paste: which account a
source reads through, one line when there is none, and what a profile, channel,
repository or forum address subscribes to."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.servers import fake_mastodon as fake_module
from tests.servers.fake_mastodon import FakeMastodon
from veille.accounts import config as acc
from veille.accounts import edit as acc_edit
from veille.paths import get_paths

fake_mastodon = fake_module.fake_mastodon
HOME = "/api/v1/timelines/home"


def jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def add_account(home: Path, name: str, fields: dict[str, str], secrets: dict[str, str]) -> None:
    """What `veille account add` saves: a table in config.toml, secrets beside it."""
    paths = get_paths(home).ensure()
    acc_edit.append_account(paths.config_file, name, fields)
    store = acc.open_secrets(paths.config)
    for key, value in secrets.items():
        store.set(acc.secret_name(name, key), value)


def mastodon(home: Path, name: str, instance: str, token: str = "t") -> None:
    add_account(home, name, {"type": "mastodon", "instance": instance}, {"token": token})


def bluesky(home: Path, name: str, handle: str, service: str) -> None:
    add_account(
        home,
        name,
        {"type": "bluesky", "handle": handle, "service": service},
        {"app_password": "app-password"},
    )


def feeds(cli: Any) -> dict[str, dict[str, Any]]:
    return {f["url"]: f for f in jsonl(cli("feeds", "--json").out)}


def one_line_error(r: Any) -> str:
    """The command failed with exactly one line on stderr and no traceback."""
    assert r.code != 0
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.err, r.err
    return lines[0]


def test_a_source_that_needs_an_account_says_how_to_add_one(cli: Any, home: Path) -> None:
    line = one_line_error(cli("add", "mastodon:home"))
    assert "mastodon:home needs a Mastodon account" in line
    assert "`veille account add mastodon INSTANCE`" in line
    line = one_line_error(cli("add", "bluesky:following"))
    assert "`veille account add bluesky HANDLE`" in line
    assert feeds(cli) == {}


def test_the_only_account_of_its_kind_is_used_and_named(
    cli: Any, home: Path, fake_mastodon: FakeMastodon
) -> None:
    fake = fake_mastodon
    fake.timelines[HOME] = []
    mastodon(home, "main", fake.base_url, fake.token)
    bluesky(home, "sky", "me.test", "http://127.0.0.1:9")  # another kind: not a candidate
    r = cli("add", "mastodon:home")
    assert r.code == 0, r.err
    assert "subscribed to mastodon:home through 'main' (your only Mastodon account)" in r.out
    assert "fetched: 0 posts, 0 new" in r.out
    f = feeds(cli)["mastodon:home"]
    assert f["kind"] == "mastodon" and f["account"] == "main" and f["status"] == "ok"
    assert f["title"].startswith("Home · 127.0.0.1:")
    # Stored by name: a second Mastodon account added later changes nothing.
    mastodon(home, "second", fake.base_url)
    assert cli("refresh").code == 0
    assert feeds(cli)["mastodon:home"]["account"] == "main"
    text = cli("feeds").out
    assert "mastodon:home  (through main)" in text


def test_several_accounts_unknown_and_wrong_kind(
    cli: Any, home: Path, fake_mastodon: FakeMastodon
) -> None:
    fake = fake_mastodon
    fake.timelines["/api/v1/timelines/tag/rss"] = []
    mastodon(home, "a", fake.base_url, fake.token)
    mastodon(home, "b", fake.base_url, fake.token)
    bluesky(home, "sky", "me.test", "http://127.0.0.1:9")
    line = one_line_error(cli("add", "mastodon:tag/rss"))
    assert "several Mastodon accounts (a, b): say which with --account NAME" in line
    line = one_line_error(cli("add", "mastodon:tag/rss", "--account", "zz"))
    assert "no account named 'zz' (your Mastodon accounts: a, b)" in line
    line = one_line_error(cli("add", "mastodon:tag/rss", "--account", "sky"))
    assert "'sky' is a bluesky account" in line
    line = one_line_error(cli("add", "https://example.com/feed", "--account", "a"))
    assert "--account is for social sources" in line
    r = cli("add", "mastodon:tag/rss", "--account", "b")
    assert r.code == 0 and "subscribed to mastodon:tag/rss through 'b'" in r.out, r.err
    assert feeds(cli)["mastodon:tag/rss"]["account"] == "b"
    again = cli("add", "mastodon:tag/rss", "--account", "b")
    assert again.code == 0 and "already subscribed: mastodon:tag/rss (through 'b')" in again.out
    line = one_line_error(cli("add", "mastodon:tag/rss", "--account", "a"))
    assert "already subscribed" in line and "remove it first" in line


def test_every_source_name_is_accepted_with_its_kind(cli: Any, home: Path) -> None:
    mastodon(home, "main", "https://mastodon.example")
    bluesky(home, "sky", "me.test", "https://pds.example")
    names = {
        "mastodon:list/42": "mastodon",
        "mastodon:tag/#IndieWeb": "mastodon",
        "mastodon:@Gargron@Mastodon.Social": "mastodon",
        "bluesky:following": "bluesky",
        "bluesky:@Alice.Bsky.Social": "bluesky",
        "bluesky:timeline": "bluesky",
        "bluesky:feed/at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.generator/whats-hot": (
            "bluesky"
        ),
    }
    for name in names:
        r = cli("add", name, "--no-fetch")
        assert r.code == 0, (name, r.err)
    got = {url: f["kind"] for url, f in feeds(cli).items()}
    assert got == {
        "mastodon:list/42": "mastodon",
        "mastodon:tag/IndieWeb": "mastodon",
        "mastodon:@Gargron@mastodon.social": "mastodon",
        "bluesky:following": "bluesky",
        "bluesky:@alice.bsky.social": "bluesky",
        "bluesky:timeline": "bluesky",
        "bluesky:feed/at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.generator/whats-hot": (
            "bluesky"
        ),
    }
    # Public sources need no account: none is tied to them.
    assert feeds(cli)["mastodon:@Gargron@mastodon.social"]["account"] is None
    assert feeds(cli)["bluesky:timeline"]["account"] == "sky"


@pytest.mark.parametrize(
    ("bad", "hint"),
    [
        ("mastodon:", "nothing after 'mastodon:'"),
        ("mastodon:list/", "e.g. mastodon:list/42"),
        ("mastodon:@nobody", "say which instance, e.g. mastodon:@nobody@mastodon.social"),
        ("bluesky:feed/at://x", "a feed is an AT-URI"),
        ("bluesky:home", "use bluesky:following, bluesky:@handle"),
    ],
)
def test_bad_source_names_are_one_line(cli: Any, home: Path, bad: str, hint: str) -> None:
    line = one_line_error(cli("add", bad))
    assert line.startswith("veille: ") and hint in line


@pytest.mark.parametrize(
    ("pasted", "url", "said"),
    [
        (
            "https://github.com/textualize/textual",
            "https://github.com/textualize/textual/releases.atom",
            "releases",
        ),
        (
            "https://www.youtube.com/channel/UCsXVk37bltHxD1rDPwtNM8Q",
            "https://www.youtube.com/feeds/videos.xml?channel_id=UCsXVk37bltHxD1rDPwtNM8Q",
            "videos feed",
        ),
        ("https://old.reddit.com/r/rss/", "https://www.reddit.com/r/rss/.rss", "r/rss"),
        ("https://news.ycombinator.com/", "https://news.ycombinator.com/rss", "Hacker News"),
        ("https://bsky.app/profile/alice.bsky.social", "bluesky:@alice.bsky.social", "Bluesky"),
        ("@alice@mastodon.example", "mastodon:@alice@mastodon.example", "Mastodon"),
    ],
)
def test_pasted_addresses_subscribe_to_the_right_source(
    cli: Any, home: Path, pasted: str, url: str, said: str
) -> None:
    r = cli("add", pasted, "--no-fetch")
    assert r.code == 0, r.err
    assert r.out.startswith(f"subscribed to {url}") and said in r.out
    kind = url.split(":", 1)[0] if url.startswith(("mastodon:", "bluesky:")) else "feed"
    assert feeds(cli)[url]["kind"] == kind
    again = cli("add", pasted, "--no-fetch")
    assert again.code == 0 and f"already subscribed: {url}" in again.out


def test_a_mastodon_profile_address_is_checked_on_its_server(
    cli: Any, home: Path, fake_mastodon: FakeMastodon
) -> None:
    fake = fake_mastodon
    account = dict(fake.account, id="7", username="alice", acct="alice")
    fake.lookup_accounts["alice"] = account
    fake.public_paths.add("/api/v1/accounts/lookup")
    host = fake.base_url.removeprefix("http://")
    r = cli("add", f"{fake.base_url}/@alice", "--no-fetch")
    assert r.code == 0, r.err
    assert f"subscribed to mastodon:@alice@{host}. The public posts" in r.out
    assert feeds(cli)[f"mastodon:@alice@{host}"]["kind"] == "mastodon"
    # A /@name page on a server that is not Mastodon is an ordinary page.
    r = cli("add", f"{fake.base_url}/@nobody", "--no-fetch")
    assert r.code != 0 and "mastodon:" not in r.out + r.err
