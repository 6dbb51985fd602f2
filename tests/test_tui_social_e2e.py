"""The social loop through the app, end to end against the genuine servers.

snac2: a post of someone you follow comes in with the home timeline; in the
composer ctrl+r makes the share a reply, ctrl+s posts it (``in_reply_to_id`` as
snac numbers the post); she answers; ``r`` refreshes, the status bar and a
notification say "1 new response", the Shares view shows her words.

Bluesky (the reference PDS): the same from the composer, as a quote (an
``app.bsky.embed.record`` with the post's uri and cid).
"""

from __future__ import annotations

import io
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import bluesky as pds_module
from tests.servers import mastodon as snac_module
from tests.servers.bluesky import BlueskyNetwork, new_user, strong_ref
from tests.servers.mastodon import SnacServer, add_user, one_shot_client
from tests.tui_helpers import main_shown, make_app, screen_lines, settle, toasts, wait_for
from veille.accounts import config as acc
from veille.accounts import edit as acc_edit
from veille.accounts.config import open_secrets
from veille.config import load_config
from veille.paths import get_paths
from veille.store.store import Store
from veille.tui.screens.main import MainScreen
from veille.tui.screens.shares import SharesScreen

bluesky_network = pds_module.bluesky_network
snac_server = snac_module.snac_server

SIZE = (160, 50)


def poll(predicate: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Wait for a server (outside the app) to get somewhere, never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"{what} did not happen within {timeout:.0f} s")


async def on_item(pilot, link: str) -> MainScreen:
    await wait_for(
        pilot,
        lambda: main_shown(pilot.app),
        what="main screen",
    )
    screen = pilot.app.screen
    store = screen.store
    iid = next(i.id for i in store.items() if i.link == link)
    screen.open_item(iid, focus="none")
    await wait_for(
        pilot,
        lambda: screen.item_view.item_id == iid and screen.composer.item_id == iid,
        what="the panes on the shared article",
    )
    return screen


def preview_of(screen: MainScreen, name: str) -> Any:
    return next((e for e in screen.composer.preview.entries if e.name == name), None)


def auth(t: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {t}"}


@pytest.fixture
def snac_world(cli: Any, home: Path, snac_server: SnacServer) -> dict[str, Any]:
    """ann, whom you follow, posted a link; the home timeline is in the store.
    (Set up outside the test's event loop: the CLI runs its own.)"""
    base, token = snac_server.base_url, snac_server.token
    host = base.removeprefix("http://")
    article = f"https://article.example/2026/{uuid.uuid4().hex[:8]}"
    name = "ann" + uuid.uuid4().hex[:6]
    _, ann_token = add_user(snac_server, name)
    with one_shot_client(base_url=base, timeout=10) as http:
        ann = http.get("/api/v1/accounts/lookup", params={"acct": name}).json()
        assert http.post(f"/api/v1/accounts/{ann['id']}/follow", headers=auth(token))
        status = http.post(
            "/api/v1/statuses", headers=auth(ann_token), data={"status": f"Read {article}"}
        ).json()
        poll(
            lambda: (
                status["id"]
                in [s["id"] for s in http.get("/api/v1/timelines/home", headers=auth(token)).json()]
            ),
            "ann's post in the home timeline",
        )

    paths = get_paths()
    paths.config_file.parent.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text('[share]\ndefault_to = ["main"]\n')
    acc_edit.append_account(paths.config_file, "main", {"type": "mastodon", "instance": base})
    open_secrets(paths.config).set(acc.secret_name("main", "token"), token)
    assert cli("add", "mastodon:home").code == 0
    return {
        "base": base,
        "token": token,
        "host": host,
        "name": name,
        "ann_token": ann_token,
        "status": status,
        "article": article,
    }


@pytest.mark.slow
async def test_reply_from_the_composer_on_snac_and_what_comes_back(
    home: Path, snac_world: dict[str, Any]
) -> None:
    w = snac_world
    base, token, host, name = w["base"], w["token"], w["host"], w["name"]
    ann_token, status, article = w["ann_token"], w["status"], w["article"]
    paths = get_paths()
    store = Store(paths.store)
    config = load_config(paths.config_file)
    try:
        app = make_app(store, paths, config)
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            screen = await on_item(pilot, article)
            assert f"@{name}@{host}" in "\n".join(screen.item_view.plain_lines())
            await pilot.press("c", *"Good one", "ctrl+r")
            await wait_for(
                pilot,
                lambda: (
                    (e := preview_of(screen, "main")) is not None
                    and e.note == f"a reply to @{name}@{host}'s post"
                ),
                what="the reply in the preview",
            )
            assert preview_of(screen, "main").text == f"@{name}@{host} Good one"
            await pilot.press("ctrl+s")
            await wait_for(
                pilot,
                lambda: (
                    [d.status for s in store.shares() for d in s.deliveries.values()] == ["sent"]
                ),
                timeout=60,
                what="the reply sent",
            )
            [share] = store.shares()
            mine = share.deliveries["main"]
            with one_shot_client(base_url=base, timeout=10) as http:
                posted = http.get(f"/api/v1/statuses/{mine.remote_id}", headers=auth(token)).json()
                assert posted["in_reply_to_id"] == status["id"]
                # ann answers the reply; the app hears of it at its next refresh.
                answer = http.post(
                    "/api/v1/statuses",
                    headers=auth(ann_token),
                    data={"status": "Thanks for reading!", "in_reply_to_id": mine.remote_id},
                ).json()

                def notified() -> bool:
                    found = http.get("/api/v1/notifications", headers=auth(token)).json()
                    return any((n.get("status") or {}).get("id") == answer["id"] for n in found)

                poll(notified, "the answer's notification")
            await pilot.press("r")
            await wait_for(
                pilot,
                lambda: "↩ 1 new response (S)" in screen.status_text,
                timeout=60,
                what="the response counted",
            )
            await wait_for(
                pilot,
                lambda: (
                    "1 new response to your shares — S shows them" in " ".join(toasts(pilot.app))
                ),
            )
            await pilot.press("S")
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, SharesScreen))
            await settle(pilot)
            text = "\n".join(screen_lines(pilot.app))
            assert "What came back: ↩ 1 reply" in text
            assert f"@{name}@{host}: “Thanks for reading!”" in text
            assert f"↩ a reply to @{name}@{host}'s post" in text
    finally:
        store.close()


@pytest.fixture
def pds_world(
    cli: Any, home: Path, bluesky_network: BlueskyNetwork, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """ann, whom you follow on the PDS, posted a link; your following is in the store."""
    net = bluesky_network
    monkeypatch.setenv("VEILLE_PLC_URL", net.plc)
    article = f"https://article.example/2026/{uuid.uuid4().hex[:8]}"
    me, ann = new_user(net.pds, "me"), new_user(net.pds, "ann")
    me.follow(ann.did)
    first = ann.post(
        "Worth your time",
        embed={
            "$type": "app.bsky.embed.external",
            "external": {"uri": article, "title": "Worth it", "description": ""},
        },
    )
    monkeypatch.setattr(sys, "stdin", io.StringIO(me.app_password + "\n"))
    added = cli(
        "account", "add", "bluesky", me.handle, "--service", net.pds, "--name", "bsky", "--default"
    )
    assert added.code == 0, added.err
    assert cli("add", "bluesky:following").code == 0
    return {"net": net, "me": me, "ann": ann, "first": first, "article": article}


@pytest.mark.slow
async def test_quote_from_the_composer_on_the_reference_pds(
    home: Path, pds_world: dict[str, Any]
) -> None:
    w = pds_world
    net, me, ann, first, article = w["net"], w["me"], w["ann"], w["first"], w["article"]
    paths = get_paths()
    store = Store(paths.store)
    config = load_config(paths.config_file)
    try:
        async with make_app(store, paths, config).run_test(size=SIZE, notifications=True) as pilot:
            screen = await on_item(pilot, article)
            await pilot.press("c", *"Seconded", "ctrl+r", "ctrl+r")
            await wait_for(
                pilot,
                lambda: (
                    (e := preview_of(screen, "bsky")) is not None
                    and e.note == f"quotes @{ann.handle}'s post"
                ),
                what="the quote in the preview",
            )
            assert preview_of(screen, "bsky").text == "Seconded"
            # Your Atom feed cannot quote: it links to the post.
            assert preview_of(screen, "atom").text.startswith("Seconded\n\nhttps://bsky.app/")
            await pilot.press("ctrl+s")
            await wait_for(
                pilot,
                lambda: (
                    [d.status for s in store.shares() for d in s.deliveries.values()]
                    == ["sent", "sent"]
                ),
                timeout=60,
                what="the quote sent",
            )
    finally:
        store.close()
    r = httpx.get(
        f"{net.pds}/xrpc/com.atproto.repo.listRecords",
        params={"repo": me.did, "collection": "app.bsky.feed.post", "limit": 5},
    )
    [record] = [x["value"] for x in r.json()["records"] if x["value"]["text"] == "Seconded"]
    assert record["embed"] == {"$type": "app.bsky.embed.record", "record": strong_ref(first)}
