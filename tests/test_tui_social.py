"""The social loop in the app (issue 10): ◆N on the stream's rows, the "seen via"
list with each sharer's words and numbered links, reposts and content warnings,
replies to your shares, the network view and its ranking, credit / reply /
quote in the composer's preview, and what came back in the Shares view and the
item pane.

Posts come from real recorded answers where the shared corpus has them (a
mastodon.social status behind a content warning, with a mention, a hashtag and
an image; a bsky.social timeline with link facets and images), and from
entries built like the sources build them where a test needs several people
sharing one article.  Every wait is for a condition; what is asserted is what
the user sees (screen rows, panes, toasts) or what another process would read.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from rich.cells import cell_len

from tests.conftest import CORPUS
from tests.tui_helpers import (
    NOW,
    make_app,
    make_config,
    make_paths,
    screen_lines,
    settle,
    started,
    toasts,
    wait_for,
)
from veille.domain.entries import ParsedEntry
from veille.domain.share import Delivery, Share, ShareResponse
from veille.store.store import Store
from veille.tui.screens.main import MainScreen
from veille.tui.screens.pickers import PickScreen
from veille.tui.screens.shares import SharesScreen
from veille.util.dates import iso

SIZE = (160, 50)
ART_A = "https://article.example/a-deep-dive"
ART_B = "https://article.example/b-second"
ART_C = "https://article.example/c-third"
ART_E = "https://article.example/e-last-week"
ART_OLD = "https://article.example/old-pair"
HOSTILE_WORDS = "[bold red]Read[/] this \x1b[2J now [@click=app.quit]x[/] https://ann.example/notes"
REPLY_URL = "https://i.example/@ivy/77"
MASTODON = (
    CORPUS / "social" / "mastodon" / "mastodon.social_entities" / "test_entity_status__00.json"
)
BLUESKY = CORPUS / "social" / "bluesky" / "bskyr_api_responses" / "f_timeline__00.json"


def post(
    key: str,
    handle: str,
    link: str,
    text: str = "",
    *,
    kind: str = "post",
    reposter: str = "",
    url: str = "",
    ago: timedelta = timedelta(hours=1),
) -> ParsedEntry:
    """A post as the Mastodon source makes it: the article it links, its words."""
    user, host = handle.strip("@").split("@")
    words = text or f"{user} says read this"
    post_url = url or f"https://{host}/@{user}/{key}"
    return ParsedEntry(
        key=f"https://{host}/users/{user}/statuses/{key}",
        link=link or post_url,
        kind=kind,
        handle=handle,
        author=user.title(),
        post_url=post_url,
        post_text=words,
        reposter=reposter,
        published=iso(NOW - ago),
        title="" if link else words,
        summary=words,
    )


def social_store(root: Path) -> tuple[Store, dict[str, str]]:
    """Articles seen through posts of several people, a post of one, a reply to
    your share, a content warning and a Bluesky timeline; returns name -> id."""
    from veille.sources.bluesky import feed_item_entry
    from veille.sources.mastodon import status_entry

    store = Store(root)
    site, _ = store.add_feed("https://article.example/feed.xml", title="Article site")
    store.upsert_entries(
        site.id,
        [
            ParsedEntry(
                key="a",
                title="A deep dive",
                link=ART_A,
                published=iso(NOW - timedelta(hours=3)),
                content="<p>The whole story, <a href='https://article.example/more'>more</a>.</p>",
            ),
            ParsedEntry(
                key="z",
                title="Nobody shared this",
                link="https://article.example/z",
                published=iso(NOW - timedelta(hours=4)),
            ),
        ],
        when=NOW - timedelta(hours=3),
    )
    home, _ = store.add_feed("mastodon:home", kind="mastodon", account="main", title="Home")
    bsky, _ = store.add_feed("bluesky:following", kind="bluesky", account="bsky", title="Sky")
    # Last week: E shared by five people; a pair shared something three days ago.
    store.upsert_entries(
        home.id,
        [post(f"e{n}", f"@p{n}@e.example", ART_E, ago=timedelta(days=2)) for n in range(5)],
        when=NOW - timedelta(days=2),
    )
    store.upsert_entries(
        home.id,
        [post(f"o{n}", f"@q{n}@o.example", ART_OLD, ago=timedelta(days=3)) for n in range(2)],
        when=NOW - timedelta(days=3),
    )
    store.upsert_entries(
        home.id,
        [
            post("1", "@ann@a.example", ART_A, HOSTILE_WORDS),
            post("2", "@bob@b.example", ART_A, "Bob's take: worth it"),
            post("3", "@ann@a.example", ART_A, "Still thinking about it"),  # ann again
            post(
                "4",
                "@carl@c.example",
                ART_A,
                "Carl wrote this",
                kind="repost",
                reposter="@dan@d.example",
            ),
            post("5", "@erin@e.example", ART_B, "A second look"),
            post("6", "@finn@f.example", ART_B),
            post("7", "@gus@g.example", ART_C, "Only gus"),
            post("8", "@hal@h.example", "", "Just thinking out loud about feeds"),
        ],
        when=NOW - timedelta(hours=1),
    )
    # A damaged sighting: a post address that is no web address is never numbered.
    store.upsert_entries(
        home.id,
        [post("9", "@mal@m.example", ART_A, "sneaky", url="javascript:alert(1)")],
        when=NOW - timedelta(hours=1),
    )
    # A real mastodon.social status behind a content warning, with an image.
    status = json.loads(MASTODON.read_text("utf-8"))
    cw = status_entry(status, instance="https://mastodon.social")
    assert cw is not None and cw.content_warning
    store.upsert_entries(home.id, [cw], when=NOW - timedelta(hours=2))
    # A real bsky.social timeline: link facets, an external card, images.
    feed = json.loads(BLUESKY.read_text("utf-8"))["feed"]
    entries = [e for it in feed[:17] if (e := feed_item_entry(it)) is not None]
    cran = next(e for e in entries if "CRAN" in e.link)
    images = next(e for e in entries if e.summary.startswith("We’re testing"))
    store.upsert_entries(bsky.id, [cran, images], when=NOW - timedelta(hours=5))
    # You shared C; ivy answered (an item of its own), jay liked it.
    ids = {i.link: i.id for i in store.items()}
    share = Share(
        id="sh1",
        item_id=ids[ART_C],
        comment="Gus is right",
        created=iso(NOW - timedelta(minutes=50)),
        title="Third article",
        link=ART_C,
        deliveries={
            "main": Delivery(
                "main", "mastodon", status="sent", url="https://me.example/@me/1", remote_id="1"
            )
        },
        responses=[
            ShareResponse(
                "reply",
                REPLY_URL,
                "main",
                "1",
                "Ivy",
                "@ivy@i.example",
                "Great pick! [b]sure[/b]",
                REPLY_URL,
                iso(NOW - timedelta(minutes=20)),
            ),
            ShareResponse(
                "like",
                "like:jay",
                "main",
                "1",
                "Jay",
                "@jay@j.example",
                url="https://j.example/@jay",
                at=iso(NOW - timedelta(minutes=10)),
            ),
        ],
    )
    store.put_share(share)
    store.set_state([ids[ART_C]], shared=True)
    reply = post(
        "77",
        "@ivy@i.example",
        REPLY_URL,
        "Great pick! [b]sure[/b]",
        kind="reply",
        url=REPLY_URL,
        ago=timedelta(minutes=20),
    )
    reply.reply_to = "1"
    store.upsert_entries(home.id, [reply], when=NOW - timedelta(minutes=20))
    store.flush()
    names = {i.link: i.id for i in store.items()}
    names["cw"] = next(i.id for i in store.items() if i.content_warning)
    names["reply"] = names[REPLY_URL]
    names["hal"] = next(i.id for i in store.items() if i.display_title.startswith("Just thinking"))
    names["cran"] = next(i.id for i in store.items() if "CRAN" in i.link)
    names["images"] = next(i.id for i in store.items() if i.summary.startswith("We’re testing"))
    return store, names


@pytest.fixture
def world(tmp_path: Path, home: Path):
    if not (MASTODON.is_file() and BLUESKY.is_file()):
        pytest.skip(f"the recorded posts of the shared corpus are not here ({CORPUS})")
    paths = make_paths(tmp_path)
    store, names = social_store(paths.store)
    yield store, paths, names
    store.close()


async def select(pilot, screen: MainScreen, iid: str) -> None:
    """Open ``iid`` the way S → enter does, and wait for the panes to follow."""
    screen.open_item(iid, focus="none")
    await wait_for(
        pilot,
        lambda: screen.item_view.item_id == iid and screen.composer.item_id == iid,
        what="the panes on the item",
    )


def row_of(app, title_part: str) -> str:
    """The screen row (as composited) that shows ``title_part``."""
    rows = [r for r in screen_lines(app) if title_part in r]
    assert rows, f"no row shows {title_part!r}"
    return rows[0]


# --- 1. the stream's rows ----------------------------------------------------------------


@pytest.mark.parametrize("width", [160, 120, 80, 60])
async def test_rows_say_how_many_shared_it_replies_and_warnings(world, width: int) -> None:
    store, paths, names = world
    async with make_app(store, paths).run_test(size=(width, 40)) as pilot:
        screen = await started(pilot)
        await settle(pilot)
        a = row_of(pilot.app, "A deep dive")
        # Four accounts (ann twice, bob, dan who boosted carl, mal): ◆4, not ◆6.
        assert "◆4 A deep dive" in a
        assert "◆2 A second look" in _row_for(screen, names[ART_B])
        assert "◆1 Only gus" in _row_for(screen, names[ART_C])
        # A post by one person: its author is the sharer, no badge.
        assert "◆" not in _row_for(screen, names["hal"])
        reply = _row_for(screen, names["reply"])
        assert "↩ reply to your share · Great pi" in reply and "Great pick!" in (
            reply if width >= 160 else "Great pick!"
        )
        cw = _row_for(screen, names["cw"])
        assert "⚠ test post for mastodon.py stuff" in cw and "doo-doo" not in cw
        # Every row fits the pane: the ◆ and the age are both there at 60 columns.
        stream_w = screen.stream.scrollable_content_region.width
        for iid in (names[ART_A], names["reply"], names["cw"]):
            row = _row_for(screen, iid)
            assert cell_len(row) == stream_w, (width, row)
            assert re.search(r" ~?\d+[mhdwy]$", row), row


def _row_for(screen: MainScreen, iid: str) -> str:
    """The stream's row of ``iid`` as drawn (the item need not be on screen)."""
    stream = screen.stream
    width = stream.scrollable_content_region.width
    d = stream.store.get_item(iid)
    return "".join(seg.text for seg in stream._row_segments(d, width, False))


# --- 2. seen via: words, reposts, links --------------------------------------------------


async def test_item_pane_lists_every_sighting_with_words_and_numbered_links(
    world, monkeypatch
) -> None:
    store, paths, names = world
    opened: list[str] = []
    monkeypatch.setattr("veille.tui.app.webbrowser.open", lambda url: opened.append(url) or True)
    monkeypatch.delenv("BROWSER", raising=False)
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        await select(pilot, screen, names[ART_A])
        pane = "\n".join(screen.item_view.plain_lines())
        assert "Seen via 4 accounts you follow" in pane  # ann, bob, dan, and mal
        # The words are data: markup and escapes stay out of the terminal, literal.
        assert "[bold red]Read[/] this" in pane and "[@click=app.quit]x[/]" in pane
        assert "\x1b" not in pane
        assert "↻ @dan@d.example reposted Carl @carl@c.example" in pane
        assert "Bob @bob@b.example" in pane and "Bob's take: worth it" in pane
        assert "≡ also in Article site" in pane
        links = [link.url for link in screen.item_view.links]
        # The body's link first, then each post and the URL in ann's words.
        assert links[0] == "https://article.example/more"
        assert "https://a.example/@ann/1" in links and "https://ann.example/notes" in links
        assert not any(u.startswith("javascript:") for u in links)
        n = links.index("https://b.example/@bob/2") + 1
        assert "Bob's take" in pane and f"[{n}]" in pane
        await pilot.press(*str(n), "o")
        await wait_for(pilot, lambda: opened == ["https://b.example/@bob/2"])
        k = links.index("https://ann.example/notes") + 1
        await pilot.press(*str(k), "y")
        assert pilot.app.clipboard == "https://ann.example/notes"


# --- 3. content warnings, Mastodon HTML, Bluesky facets, media ---------------------------


async def test_content_warning_collapsed_until_v(world, monkeypatch) -> None:
    store, paths, names = world
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        await select(pilot, screen, names["cw"])
        view = screen.item_view
        assert view.header_plain.startswith("⚠ test post for mastodon.py stuff")
        pane = "\n".join(view.plain_lines())
        assert (
            "doo-doo" not in pane and "⚠ Content warning: test post for mastodon.py stuff" in pane
        )
        assert "(behind the content warning)" in pane
        assert not [link for link in view.links if "files.mastodon.social" in link.url]
        await pilot.press("v")
        await wait_for(pilot, lambda: "doo-doo" in view.body_plain)
        # Mastodon's HTML read like a feed's: the mention and the hashtag are links,
        # the image is a numbered link.
        body = view.body_plain
        assert "@halcy" in body and "#ThisIsAHashtag" in body and "<span" not in body
        kinds = {link.url: link.kind for link in view.links}
        assert any(u.startswith("https://files.mastodon.social/") for u in kinds)
        assert "doo-doo" in "\n".join(view.plain_lines())
        assert "doo-doo" in _row_for(screen, names["cw"])
        await pilot.press("v")
        await wait_for(pilot, lambda: "doo-doo" not in view.body_plain)
        await select(pilot, screen, names[ART_B])
        await pilot.press("v")
        assert "No content warning on this item." in " ".join(toasts(pilot.app))


async def test_bluesky_facets_and_images_are_numbered_links(world, monkeypatch) -> None:
    store, paths, names = world
    opened: list[str] = []
    monkeypatch.setattr("veille.tui.app.webbrowser.open", lambda url: opened.append(url) or True)
    monkeypatch.delenv("BROWSER", raising=False)
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        await select(pilot, screen, names["cran"])
        view = screen.item_view
        urls = [link.url for link in view.links]
        assert urls[0].startswith("https://CRAN.R-project.org/package=")  # the link facet
        assert "Seen via 1 account you follow" in "\n".join(view.plain_lines())
        assert any(
            u.startswith("https://bsky.app/profile/cranupdates.bsky.social/post/") for u in urls
        )
        await pilot.press("1", "o")
        await wait_for(pilot, lambda: len(opened) == 1)
        assert opened[0] == urls[0]
        await select(pilot, screen, names["images"])
        images = [link for link in view.links if "cdn.bsky.app" in link.url]
        assert images and images[0].kind.startswith("image")


# --- 4. replies to your shares, and what came back ---------------------------------------


async def test_reply_to_your_share_and_what_came_back(world) -> None:
    store, paths, names = world
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        await select(pilot, screen, names["reply"])
        pane = "\n".join(screen.item_view.plain_lines())
        assert "↩ Reply to your share of “Third article”" in pane
        await select(pilot, screen, names[ART_C])
        pane = "\n".join(screen.item_view.plain_lines())
        assert "What came back to your share of 2026-03-01 (2)" in pane
        assert "↩ Ivy @ivy@i.example replied" in pane and "Great pick! [b]sure[/b]" in pane
        assert "♥ @jay@j.example liked it" in pane
        assert REPLY_URL in [link.url for link in screen.item_view.links]
        await pilot.press("S")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, SharesScreen))
        shares = pilot.app.screen
        await settle(pilot)
        text = "\n".join(screen_lines(pilot.app))
        assert "What came back: ↩ 1 reply · ♥ 1 like" in text
        assert "↩ Ivy @ivy@i.example: “Great pick! [b]sure[/b]”" in text
        assert "2 responses" in text
        await pilot.press("enter")  # opens the shared item
        await wait_for(pilot, lambda: pilot.app.screen is screen)
        await wait_for(pilot, lambda: screen.item_view.item_id == names[ART_C])
        assert shares is not pilot.app.screen


async def test_new_responses_are_counted_until_the_shares_view(world) -> None:
    store, paths, _ = world
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        pilot.app._responses_came(2)  # what the refresh reports (the genuine one: e2e test)
        await wait_for(pilot, lambda: "↩ 2 new responses (S)" in screen.status_text)
        await wait_for(
            pilot,
            lambda: "2 new responses to your shares — S shows them" in " ".join(toasts(pilot.app)),
        )
        await pilot.press("S")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, SharesScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: "new response" not in screen.status_text)


# --- 5. the network view -----------------------------------------------------------------


async def test_network_view_ranks_by_sharers_and_switches_to_the_week(world) -> None:
    store, paths, names = world
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        await pilot.press("p")
        # Seen via 2+ accounts, first seen in the last 24 h, the most shared first.
        await wait_for(pilot, lambda: screen.stream.ids == [names[ART_A], names[ART_B]])
        assert "Network · 24 h" in screen.status_text
        await pilot.press("p")
        week = [names[ART_E], names[ART_A], names[ART_B], names[ART_OLD]]
        await wait_for(pilot, lambda: screen.stream.ids == week)
        assert "Network · 7 d" in screen.status_text
        # Filterable like any view.
        await pilot.press("slash", *"second")
        await wait_for(pilot, lambda: screen.stream.ids == [names[ART_B]])
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(screen.stream.ids) == 4)
        # In the picker, with counts; the choice is remembered.
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, PickScreen))
        picker = pilot.app.screen
        await wait_for(pilot, lambda: picker.counted, what="counts")
        labels = [" ".join(str(o.prompt).split()) for o in picker.query_one("#pick-list").options]
        assert "Network · 24 h (2)" in labels and "Network · 7 d (4)" in labels
        index = labels.index("Network · 24 h (2)")
        await pilot.press("home", *["down"] * index, "enter")
        await wait_for(pilot, lambda: screen.stream.ids == [names[ART_A], names[ART_B]])
    saved = json.loads((paths.state / "ui.json").read_text())
    assert saved["view"] == {"kind": "view", "value": "network"}
    async with make_app(store, paths).run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        assert screen.stream.ids == [names[ART_A], names[ART_B]]


async def test_network_view_empty_says_why(tmp_path: Path, home: Path) -> None:
    paths = make_paths(tmp_path)
    store = Store(paths.store)
    feed, _ = store.add_feed("https://x.example/feed", title="X")
    store.upsert_entries(
        feed.id, [ParsedEntry(key="1", title="Lonely", link="https://x.example/1")]
    )
    try:
        async with make_app(store, paths).run_test(size=SIZE) as pilot:
            screen = await started(pilot)
            await pilot.press("p")
            await wait_for(pilot, lambda: screen.stream.ids == [] and not screen.stream.loading)
            await settle(pilot)
            assert screen.stream.empty_text == (
                "Nothing shared by 2 or more accounts you follow in the last 24h. "
                "f changes the view."
            )
            assert any("Nothing shared by 2 or more" in r for r in screen_lines(pilot.app))
    finally:
        store.close()


# --- 6. credit, reply, quote in the composer ---------------------------------------------


def accounts_config(instance: str) -> str:
    return (
        '[share]\ndefault_to = ["atom", "main", "bsky"]\n\n'
        f'[accounts.main]\ntype = "mastodon"\ninstance = "{instance}"\n\n'
        '[accounts.bsky]\ntype = "bluesky"\nhandle = "me.example"\n'
        'service = "http://127.0.0.1:9"\n'
    )


@pytest.fixture
def instance(httpserver: HTTPServer) -> str:
    """A Mastodon instance that answers its limits as snac does (no quote posts)."""
    v1 = {"configuration": {"statuses": {"max_characters": 500, "characters_reserved_per_url": 23}}}
    httpserver.expect_request("/api/v2/instance").respond_with_data("", status=404)
    httpserver.expect_request("/api/v1/instance").respond_with_json(v1)
    return httpserver.url_for("/").rstrip("/")


async def test_composer_credits_replies_and_quotes(world, instance: str) -> None:
    store, paths, names = world
    paths.config_file.write_text(accounts_config(instance))
    config = make_config(paths.config_file.read_text())
    async with make_app(store, paths, config).run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        await select(pilot, screen, names[ART_A])
        composer = screen.composer
        await pilot.press("c")
        await pilot.press(*"Must read")

        def preview(name: str) -> str:
            return composer.preview.text_of(name) or ""

        def title() -> str:
            return str(pilot.app.screen.query_one("#composer-title").content)

        # The default credits the first sharer.
        await wait_for(pilot, lambda: preview("atom").startswith("Must read"))
        assert preview("atom").endswith("via @ann@a.example")
        assert preview("bsky").endswith("via @ann@a.example")
        # ann, bob, ann's second post, carl's post that dan boosted; mal's post has no
        # web address: nothing to credit or answer.
        assert "via @ann@a.example (1/4)" in title()
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: preview("atom").endswith("via @bob@b.example"))
        await pilot.press("ctrl+n", "ctrl+n")  # the repost: dan put it in front of you
        await wait_for(pilot, lambda: preview("atom").endswith("via @dan@d.example"))
        assert "(4/4)" in title()
        await pilot.press("ctrl+n", "ctrl+n")
        await wait_for(pilot, lambda: "via @bob@b.example (2/4)" in title())
        await pilot.press("ctrl+r")  # reply to bob's post
        await wait_for(pilot, lambda: title().startswith("Reply to @bob@b.example (2/4) → "))
        entries = {e.name: e for e in composer.preview.entries}
        assert entries["main"].ok and entries["main"].text == "@bob@b.example Must read"
        assert entries["main"].note == "a reply to @bob@b.example's post"
        assert not entries["atom"].ok and not entries["bsky"].ok
        assert entries["bsky"].counter == "a reply goes to Mastodon only (the post is there)"
        shown = composer.preview.render_entries().plain  # as the preview pane draws it
        assert "✗ a reply goes to Mastodon only (the post is there)\n(not sent)" in shown
        assert "↳ a reply to @bob@b.example's post\n@bob@b.example Must read" in shown
        await pilot.press("ctrl+r")  # quote
        await wait_for(pilot, lambda: title().startswith("Quote @bob@b.example (2/4) → "))
        entries = {e.name: e for e in composer.preview.entries}
        assert entries["atom"].text == "Must read\n\nhttps://b.example/@bob/2"
        # The instance advertises no quote posts (learnt in the background).
        await wait_for(
            pilot,
            lambda: (
                composer.preview.entries
                and {e.name: e for e in composer.preview.entries}["main"].note.startswith(
                    "this instance does not take quote posts"
                )
            ),
        )
        assert {e.name: e for e in composer.preview.entries}["main"].text.endswith("/@bob/2")
        await pilot.press("ctrl+r")  # back to credit
        await wait_for(pilot, lambda: preview("atom").endswith("via @bob@b.example"))
        await pilot.press("ctrl+r")  # reply again, kept in the draft
        await wait_for(pilot, lambda: store.get_draft(names[ART_A]).answer == "reply")
        assert store.get_draft(names[ART_A]).post == "https://b.example/@bob/2"
        await settle(pilot)
    # A restart finds the reply as it was left.
    async with make_app(store, paths, config).run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        await select(pilot, screen, names[ART_A])
        assert screen.composer.choices.answer == "reply"
        assert screen.composer.choices.chosen.handle == "@bob@b.example"
        # ctrl+s sends the reply where it can go, and says where it cannot.
        await pilot.press("c", "ctrl+s")
        await wait_for(pilot, lambda: len(store.shares()) == 2)
        made = next(s for s in store.shares() if s.id != "sh1")
        assert list(made.deliveries) == ["main"] and made.answer == "reply"
        assert made.post.url == "https://b.example/@bob/2"
        said = " ".join(toasts(pilot.app))
        assert "atom: not sent — a reply goes to Mastodon only" in said


async def test_nothing_to_reply_to_without_sharers(world) -> None:
    store, paths, _ = world
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        feed_item = next(i.id for i in store.items() if i.title == "Nobody shared this")
        await select(pilot, screen, feed_item)
        await pilot.press("c", "ctrl+r")
        await wait_for(
            pilot,
            lambda: "Nobody you follow shared this item" in " ".join(toasts(pilot.app)),
        )
        assert screen.composer.choices.answer == "credit"
