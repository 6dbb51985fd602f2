"""Sharing from the app: the composer's toggles and live preview, quoting, ctrl+s
through the outbox (your Atom feed by default; a fake Mastodon for limits and
retries), drafts that survive a restart, and the Shares view (S)."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import feedparser
import pytest
from rich.console import Console

from tests.servers import fake_mastodon as fake_module
from tests.servers.fake_mastodon import FakeMastodon
from tests.tui_helpers import (
    NOW,
    build_store,
    main_shown,
    make_app,
    make_config,
    make_paths,
    settle,
    toasts,
    wait_for,
)
from veille.accounts.config import open_secrets
from veille.domain.entries import ParsedEntry, ParsedFeed
from veille.domain.share import Share
from veille.store.store import Store
from veille.tui.screens.help import HelpScreen
from veille.tui.screens.main import MainScreen
from veille.tui.screens.shares import SharesScreen
from veille.tui.widgets.composer import ToggleScreen
from veille.util.dates import iso

fake_mastodon = fake_module.fake_mastodon  # the fixture, bound here by name

SIZE = (160, 50)
CATS_TITLE = "Tagged story about snakes"
CATS_LINK = "https://cats.example/1"
PARAGRAPHS = [f"Paragraph number {k} says something worth keeping." for k in range(60)]


def add_cats_feed(store: Store) -> str:
    """A feed whose one (newest) item has categories and many paragraphs."""
    feed, _ = store.add_feed("https://cats.example/feed.xml", title="Cats blog")
    store.upsert_entries(
        feed.id,
        ParsedFeed(
            title="Cats blog",
            entries=[
                ParsedEntry(
                    key="c1",
                    title=CATS_TITLE,
                    link=CATS_LINK,
                    author="Tom",
                    published=iso(NOW + timedelta(minutes=1)),  # the newest
                    categories=["Python", "machine learning"],
                    content="".join(f"<p>{p}</p>" for p in PARAGRAPHS),
                )
            ],
        ),
    )
    store.flush()
    iid = store.ordered_ids()[0]
    assert store.get_item(iid).title == CATS_TITLE
    return iid


@pytest.fixture
def env(tmp_path: Path, home: Path):
    paths = make_paths(tmp_path)  # = the VEILLE_HOME of `home`: secrets stay in a file
    assert paths.config == home / "config"
    store = build_store(paths.store)
    cats = add_cats_feed(store)
    yield store, paths, cats
    store.close()


def mastodon_config(url: str, default_to: str = '["atom", "fake"]') -> str:
    return (
        f'[share]\ndefault_to = {default_to}\n\n[accounts.fake]\ntype = "mastodon"\n'
        f'instance = "{url}"\n'
    )


async def started(pilot) -> MainScreen:
    """The main screen, once its panes show the item under the cursor."""
    await wait_for(
        pilot,
        lambda: main_shown(pilot.app),
        what="main screen",
    )
    screen = pilot.app.screen
    await wait_for(
        pilot,
        lambda: (
            screen.item_view.item_id == screen.stream.current_id
            and screen.composer.item_id == screen.stream.current_id
        ),
        what="the panes",
    )
    return screen


async def until(pilot, cond, timeout: float = 15.0) -> None:
    await wait_for(pilot, cond, timeout)


def notes(app) -> list[str]:
    """The notifications on screen, as the user reads them."""
    return toasts(app)


def preview(screen: MainScreen, name: str = "atom") -> str:
    text = screen.composer.preview.text_of(name)
    assert text is not None, [e.name for e in screen.composer.preview.entries]
    return text


async def compose(pilot, comment: str) -> MainScreen:
    """c on the first item, then the comment typed into the text area."""
    screen = await started(pilot)
    await pilot.press("c")
    assert pilot.app.focused is screen.composer.area
    screen.composer.area.insert(comment)
    await pilot.pause()
    return screen


async def test_c_prefills_title_link_via_in_preview(env):
    store, paths, cats = env
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        assert screen.stream.current_id == cats
        await pilot.press("c")
        composer = screen.composer
        assert pilot.app.focused is composer.area
        assert composer.text == ""  # the comment is yours: nothing typed for you
        assert composer.choices.ticked == ["atom"]  # no account: your own Atom feed
        text = preview(screen)
        assert text.splitlines()[:3] == [CATS_TITLE, CATS_LINK, "via Cats blog"]
        assert composer.prefill.startswith(CATS_TITLE)
        await pilot.press(*"Nice")
        assert preview(screen).startswith("Nice\n\n" + CATS_TITLE)


async def test_typing_updates_preview_and_counter(env):
    store, paths, _ = env
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        await pilot.press("c")
        before = screen.composer.preview.entries[0].counter
        await pilot.press(*"Read it")
        entry = screen.composer.preview.entries[0]
        assert entry.text.startswith("Read it\n")
        count = int(before.split()[0])
        assert entry.counter == f"{count + len('Read it') + 2} characters"  # + blank line
        assert store.get_draft(screen.composer.item_id).text == "Read it"


async def test_over_long_mastodon_turns_red_and_is_refused(env, fake_mastodon: FakeMastodon):
    store, paths, cats = env
    open_secrets(paths.config).set("account:fake:token", fake_mastodon.token)
    config = make_config(mastodon_config(fake_mastodon.base_url))
    async with make_app(store, paths, config).run_test(size=SIZE, notifications=True) as pilot:
        screen = await compose(pilot, "é" * 600)
        # the limits the instance gave (500) reach the counter the user reads
        await until(pilot, lambda: any("instance" in r[1] for r in fake_mastodon.requests))
        await settle(pilot)
        entries = {e.name: e for e in screen.composer.preview.entries}
        assert entries["atom"].ok
        over = entries["fake"]
        assert not over.ok and "/500 characters" in over.counter and "over" in over.counter
        # the counter is drawn in the theme's error colour
        rendered = screen.composer.preview.render_entries()
        error = screen.composer.preview.get_component_rich_style("preview--over")
        spans = [s for s in rendered.spans if rendered.plain[s.start : s.end].startswith("✗")]
        assert spans and spans[0].style == error and error.color is not None
        await pilot.press("ctrl+s")
        await until(pilot, lambda: any("atom: sent" in n for n in notes(pilot.app)))
        refused = [n for n in notes(pilot.app) if n.startswith("fake: not sent")]
        assert refused and "over Mastodon's limit" in refused[0] and "\n" not in refused[0]
    shares = store.shares()
    assert len(shares) == 1 and list(shares[0].deliveries) == ["atom"]
    assert fake_mastodon.created == 0
    assert not [r for r in fake_mastodon.requests if r[0] == "POST"]
    assert shares[0].item_id == cats


async def test_ctrl_s_writes_atom_marks_shared_and_search_finds_comment(env):
    store, paths, cats = env
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        screen = await compose(pilot, "Zanzibar-grade insight")
        assert store.get_draft(cats) is not None
        await pilot.press("ctrl+s")
        await until(pilot, lambda: any("atom: sent" in n for n in notes(pilot.app)))
        assert pilot.app.focused is screen.stream  # back to reading
        assert store.get_draft(cats) is None
        assert screen.composer.text == ""  # a fresh composer for this item
        assert store.get_item(cats).shared
        assert "↗" in screen.stream.render_line(0).text
        # searching finds it by your comment
        await pilot.press("slash", *"zanzibar")
        await until(pilot, lambda: screen.view.search == "zanzibar")
        assert screen.stream.ids == [cats]
    path = paths.data / "shares.atom"
    parsed = feedparser.parse(path.read_bytes())
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert len(parsed.entries) == 1
    entry = parsed.entries[0]
    assert "Zanzibar-grade insight" in entry.content[0].value
    assert entry.link == CATS_LINK
    share = store.shares()[0]
    assert share.comment == "Zanzibar-grade insight"
    assert share.hashtags == ["Python", "MachineLearning"]
    assert share.deliveries["atom"].status == "sent"


async def test_ctrl_s_from_the_stream_with_no_comment_sends_nothing(env):
    store, paths, _ = env
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        await started(pilot)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: any("Write your comment first" in n for n in notes(pilot.app)))
        await settle(pilot)
        assert store.shares() == []


async def test_quote_paragraph_at_the_top_of_the_item_pane(env):
    store, paths, cats = env
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        await pilot.press("greater_than_sign")
        assert screen.composer.text == f"> {PARAGRAPHS[0]}\n\n"
        assert store.get_draft(cats).text.startswith(f"> {PARAGRAPHS[0]}")
        assert pilot.app.focused is screen.stream  # keep reading; quote more
        # scroll the item so paragraph 12 is the top line, quote again
        await pilot.press("enter")
        view = screen.item_view
        y = view.row_of_body(PARAGRAPHS[12])
        assert y is not None and view.max_scroll_y >= y
        view.scroll_to(y=y, animate=False, immediate=True)
        await pilot.pause()
        assert view.scroll_y == y
        await pilot.press(">")
        await pilot.pause()
        text = screen.composer.text
        assert text == f"> {PARAGRAPHS[0]}\n\n> {PARAGRAPHS[12]}\n\n"
        # the quote reaches the preview, as posted
        assert preview(screen).startswith(f"> {PARAGRAPHS[0]}\n\n> {PARAGRAPHS[12]}")


async def test_hashtag_toggles(env):
    store, paths, _ = env
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        screen = await compose(pilot, "Tags!")
        composer = screen.composer
        assert composer.choices.hashtags == ["Python", "MachineLearning"]
        assert preview(screen).endswith("#Python #MachineLearning")
        bar = composer.query_one("#composer-toggles")
        assert "☑ #Python" in str(bar.render())
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert isinstance(pilot.app.screen, ToggleScreen)
        await pilot.press("space", "enter")  # the first (Python) off
        await pilot.pause()
        assert composer.choices.tags_on == ["MachineLearning"]
        assert preview(screen).endswith("#MachineLearning")
        assert "#Python" not in preview(screen)
        assert "☐ #Python" in str(bar.render())
        # a click on the toggle flips it back
        start, _end, group, _name = next(s for s in bar.spans if s[3] == "Python")
        assert group == "tag"
        await pilot.click("#composer-toggles", offset=(start + 1 + 1, 0))  # padding + 1
        await pilot.pause()
        assert composer.choices.tags_on == ["Python", "MachineLearning"]  # suggested order
        assert store.get_draft(composer.item_id).hashtags == ("Python", "MachineLearning")
        # a click beside the toggles changes nothing
        await pilot.click("#composer-toggles", offset=(1, 0))
        await pilot.pause()
        assert composer.choices.tags_on == ["Python", "MachineLearning"]


async def test_draft_with_destinations_survives_a_restart(env):
    store, paths, cats = env
    config = make_config(mastodon_config("http://127.0.0.1:9", default_to='["atom"]'))
    async with make_app(store, paths, config).run_test(size=SIZE, notifications=True) as pilot:
        screen = await compose(pilot, "half a thought")
        composer = screen.composer
        assert composer.choices.destinations == ["fake", "atom"]
        assert composer.choices.ticked == ["atom"]
        await pilot.press("ctrl+o")
        await pilot.pause()
        await pilot.press("space", "down", "space", "enter")  # fake on, atom off
        await pilot.pause()
        assert composer.choices.ticked == ["fake"]
        await pilot.press("ctrl+g")
        await pilot.pause()
        await pilot.press("down", "space", "enter")  # MachineLearning off
        await pilot.pause()
        await pilot.press("escape")
        assert pilot.app.focused is screen.stream
        await settle(pilot)  # the thread worker flushes the draft to disk
    again = Store(paths.store)  # as a new process would read it
    try:
        async with make_app(again, paths, config).run_test(size=SIZE, notifications=True) as pilot:
            screen = await started(pilot)
            assert screen.stream.current_id == cats
            composer = screen.composer
            assert composer.text == "half a thought"
            assert composer.choices.ticked == ["fake"]
            assert composer.choices.tags_on == ["Python"]
            assert [e.name for e in composer.preview.entries] == ["fake"]
            assert "draft saved" in str(composer.query_one("#composer-title").render())
    finally:
        again.close()


def put_share(store: Store, item_id: str, sid: str, created: str, **deliveries) -> Share:
    item = store.get_item(item_id)
    share = Share(
        id=sid,
        item_id=item_id,
        comment=f"Comment of {sid}\nsecond line",
        created=created,
        title=item.title,
        link=item.link,
        source="Site",
    )
    for name, fields in deliveries.items():
        d = share.add_delivery(name, "atom" if name == "atom" else "mastodon")
        for k, v in fields.items():
            setattr(d, k, v)
    store.put_share(share)
    return share


async def test_shares_view_lists_statuses_newest_first_and_opens(env):
    store, paths, _ = env
    ids = store.ordered_ids()
    put_share(store, ids[3], "s-old", "2026-02-01T10:00:00Z", atom={"status": "queued"})
    put_share(
        store,
        ids[2],
        "s-new",
        "2026-02-03T10:00:00Z",
        atom={"status": "sent", "url": "file:///x/shares.atom"},
        fake={"status": "failed", "error": "[bold]422[/bold] Validation failed"},
    )
    put_share(store, ids[1], "s-mid", "2026-02-02T10:00:00Z", atom={"status": "sent"})
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        await pilot.press("S")
        await until(pilot, lambda: isinstance(pilot.app.screen, SharesScreen))
        shares = pilot.app.screen
        listing = shares.listing
        assert [listing.get_option_at_index(i).id for i in range(3)] == [
            "s-new",
            "s-mid",
            "s-old",
        ]
        row = listing.get_option_at_index(0).prompt.plain
        assert "2026-02-03 10:00" in row and store.get_item(ids[2]).title in row
        assert "“Comment of s-new”" in row and "second line" not in row
        assert "atom: sent — file:///x/shares.atom" in row
        assert "fake: failed — [bold]422[/bold] Validation failed" in row  # literally
        assert "atom: queued" in listing.get_option_at_index(2).prompt.plain
        status = str(shares.query_one("#shares-status").render())
        assert "3 shared" in status and "1 need attention" in status
        # r on a share that is fully sent does nothing but say so
        await pilot.press("down", "r")
        await until(pilot, lambda: any("Nothing to retry" in n for n in notes(pilot.app)))
        await pilot.press("up", "enter")
        await until(pilot, lambda: pilot.app.screen is screen)
        await until(pilot, lambda: screen.item_view.item_id == ids[2])
        assert screen.stream.current_id == ids[2]
        assert pilot.app.focused is screen.item_view
        await pilot.press("S")
        await until(pilot, lambda: isinstance(pilot.app.screen, SharesScreen))
        await pilot.press("escape")
        await until(pilot, lambda: pilot.app.screen is screen)


async def test_retry_of_a_failed_share_ends_sent(env, fake_mastodon: FakeMastodon):
    store, paths, _ = env
    open_secrets(paths.config).set("account:fake:token", fake_mastodon.token)
    config = make_config(mastodon_config(fake_mastodon.base_url, default_to='["fake"]'))
    fake_mastodon.fail(503, times=1)
    async with make_app(store, paths, config).run_test(size=SIZE, notifications=True) as pilot:
        await compose(pilot, "Second time lucky")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: any(n.startswith("fake: queued") for n in notes(pilot.app)))
        sid = store.shares()[0].id
        d = store.get_share(sid).deliveries["fake"]
        assert d.status == "queued" and d.error and fake_mastodon.created == 0
        await pilot.press("S")
        await until(pilot, lambda: isinstance(pilot.app.screen, SharesScreen))
        shares = pilot.app.screen
        assert "fake: queued" in shares.listing.get_option_at_index(0).prompt.plain
        await pilot.press("r")
        await until(pilot, lambda: store.get_share(sid).deliveries["fake"].status == "sent")
        await until(pilot, lambda: any(n.startswith("fake: sent") for n in notes(pilot.app)))
        # the open Shares view follows the send (it watches the app)
        await until(
            pilot,
            lambda: "fake: sent — http" in shares.listing.get_option_at_index(0).prompt.plain,
        )
    d = store.get_share(sid).deliveries["fake"]
    assert fake_mastodon.created == 1 and d.url == fake_mastodon.statuses[0]["url"]
    assert fake_mastodon.statuses[0]["content"].startswith("<p>Second time lucky")


async def test_edit_a_failed_share_then_send_retries_it(env):
    store, paths, cats = env
    put_share(
        store,
        cats,
        "s-fail",
        "2026-02-03T10:00:00Z",
        atom={"status": "failed", "error": "cannot write /nowhere"},
    )
    async with make_app(store, paths).run_test(size=SIZE, notifications=True) as pilot:
        screen = await started(pilot)
        await pilot.press("j", "S")  # away from the item first: e brings it back
        await until(pilot, lambda: isinstance(pilot.app.screen, SharesScreen))
        await pilot.press("e")
        await until(pilot, lambda: pilot.app.screen is screen)
        await until(pilot, lambda: screen.composer.share_id == "s-fail")
        composer = screen.composer
        assert screen.stream.current_id == cats
        assert pilot.app.focused is composer.area
        assert composer.share_id == "s-fail"
        assert composer.text == "Comment of s-fail\nsecond line"
        assert composer.choices.ticked == ["atom"]
        composer.area.load_text("A better comment")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await until(pilot, lambda: store.get_share("s-fail").deliveries["atom"].status == "sent")
        assert len(store.shares()) == 1  # the same share, not a second one
        assert store.get_share("s-fail").comment == "A better comment"
        assert store.get_draft(cats) is None


async def test_send_share_is_rebindable_listed_in_help_and_palette(env):
    store, paths, _ = env
    config = make_config('[keys]\nsend_share = "f9"\nshare_retry = "R"\n')
    async with make_app(store, paths, config).run_test(size=SIZE, notifications=True) as pilot:
        await compose(pilot, "Via f9")
        await pilot.press("f9")
        await until(pilot, lambda: bool(store.shares()))
        assert store.shares()[0].comment == "Via f9"
        await pilot.press("escape", "question_mark")
        await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))
        console = Console(width=120, record=True, file=io.StringIO())
        for static in pilot.app.screen.query("Static"):
            console.print(static.content)
        help_text = console.export_text()
        assert "Send the share" in help_text and "f9" in help_text
        assert "Retry a failed share" in help_text and "Shares" in help_text
        await pilot.press("escape")
        commands = [c.title for c in pilot.app.get_system_commands(pilot.app.screen)]
        assert "Send the share (composer)" in commands
        assert "Quote the paragraph (or selection) in the comment" in commands
