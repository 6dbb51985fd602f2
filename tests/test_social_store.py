"""What the store and the pure decisions do with social polls: one item per article
however many posts of one timeline link to it, replies kept apart, responses
attached to shares once and kept; a poll's warning and backlog in decide()."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from veille.config import Config
from veille.domain.entries import ParsedEntry
from veille.domain.records import Feed
from veille.domain.share import Delivery, Share, ShareResponse
from veille.refresh.decide import decide
from veille.sources.base import PollResult
from veille.store.store import Store
from veille.util.dates import parse_iso

ARTICLE = "https://article.example/2026/story"
MY_POST = "at://did:plc:me/app.bsky.feed.post/1"


@pytest.fixture
def store(tmp_path: Path):
    s = Store(tmp_path / "store")
    yield s
    s.close()


def post(key: str, handle: str, link: str = ARTICLE, **kw: str) -> ParsedEntry:
    return ParsedEntry(
        key=key,
        link=link,
        kind=kw.pop("kind", "post"),
        handle=handle,
        author=handle.strip("@").split("@")[0].title(),
        post_url=f"https://social.example/{key}",
        post_text=kw.pop("text", f"{handle} says read this"),
        **kw,
    )


def test_posts_of_one_timeline_about_one_article_are_one_item(store: Store) -> None:
    home, _ = store.add_feed("mastodon:home", kind="mastodon", account="main")
    tag, _ = store.add_feed("mastodon:tag/rss", kind="mastodon", account="main")
    res = store.upsert_entries(
        home.id,
        [
            post("p1", "@ann@a.example", ARTICLE + "?utm_source=mastodon"),
            post("p2", "@bob@b.example", "https://www.article.example/2026/story/"),
            post("p3", "@ann@a.example"),  # ann again: one more sighting, not one more sharer
            post("p4", "@cat@c.example", kind="repost", reposter="@dan@d.example"),
        ],
    )
    assert (res.new, res.merged) == (1, 3)
    store.upsert_entries(tag.id, [post("p1", "@ann@a.example")])  # the same post, elsewhere
    [item] = store.items()
    assert item.link == ARTICLE  # tracking parameter out, as the first sharer gave it
    assert len(item.sightings) == 5
    # ann, bob, dan (who reposted cat's post), cat's own words do not make cat a sharer
    assert item.sharers == 3
    # Polled again: nothing new, nothing merged twice.
    again = store.upsert_entries(
        home.id, [post("p2", "@bob@b.example"), post("p3", "@ann@a.example")]
    )
    assert (again.new, again.merged) == (0, 0) and len(store.items()[0].sightings) == 5


def test_a_feeds_own_entries_with_one_link_stay_apart(store: Store) -> None:
    feed, _ = store.add_feed("https://site.example/feed")
    store.upsert_entries(
        feed.id,
        [ParsedEntry(key="a", link=ARTICLE, title="Part 1"),
         ParsedEntry(key="b", link=ARTICLE, title="Part 2")],
    )  # fmt: skip
    assert sorted(i.title for i in store.items()) == ["Part 1", "Part 2"]


def test_a_reply_to_your_share_is_an_item_of_its_own(store: Store) -> None:
    feed, _ = store.add_feed("bluesky:following", kind="bluesky", account="sky")
    store.upsert_entries(
        feed.id,
        [
            post("p1", "@ann.test"),
            post("r1", "@bob.test", "https://bsky.app/profile/bob.test/post/r1", kind="reply",
                 reply_to=MY_POST, text="Great pick!"),
        ],
    )  # fmt: skip
    by_kind = {i.kind: i for i in store.items()}
    assert set(by_kind) == {"article", "reply"}
    reply = by_kind["reply"]
    assert reply.sightings[0].kind == "reply" and reply.sightings[0].text == "Great pick!"


def _share(sid: str = "s1") -> Share:
    share = Share(id=sid, item_id="", comment="c", created="2026-11-30T09:00:00Z")
    share.deliveries["sky"] = Delivery(
        destination="sky", kind="bluesky", status="sent", remote_id=MY_POST
    )
    return share


def response(kind: str, key: str) -> ShareResponse:
    return ShareResponse(kind=kind, key=key, destination="sky", handle="@ann.test", author="Ann")


def test_responses_are_attached_once_and_survive_a_stale_copy(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    try:
        store.put_share(_share())
        stale = store.get_share("s1")  # what the outbox holds while it sends
        assert (
            store.attach_responses({"s1": [response("like", "k1"), response("reply", "k2")]}) == 2
        )
        assert (
            store.attach_responses(
                {"s1": [response("like", "k1")], "gone": [response("like", "k9")]}
            )
            == 0
        )
        assert stale is not None
        stale.deliveries["sky"].url = "https://bsky.app/profile/me/post/1"
        store.put_share(stale)  # the outbox saves its copy: the responses stay
    finally:
        store.close()
    reopened = Store(tmp_path / "store")
    try:
        share = reopened.get_share("s1")
        assert share is not None
        assert [(r.kind, r.key) for r in share.responses] == [("like", "k1"), ("reply", "k2")]
        assert share.deliveries["sky"].url == "https://bsky.app/profile/me/post/1"
    finally:
        reopened.close()


def test_an_old_share_without_responses_reads_back(store: Store) -> None:
    doc = _share().to_dict()
    del doc["responses"]
    assert Share.from_dict(doc).responses == []
    doc["responses"] = [{"kind": "like", "key": "k", "later_field": 1}, "junk"]
    assert [r.key for r in Share.from_dict(doc).responses] == ["k"]


# --- decide ---------------------------------------------------------------------------------

WHEN = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def test_a_poll_warning_is_kept_until_a_clean_poll() -> None:
    feed = Feed(id="f", url="bluesky:following", kind="bluesky")
    warned = decide(
        feed,
        PollResult(entries=[post("p", "@a.test")], warning="1 of 3 accounts not read"),
        WHEN,
        Config(),
    )
    assert warned.fields["warning"] == "1 of 3 accounts not read"
    assert warned.fields["message"] == "1 post, {new} new"
    clean = decide(feed, PollResult(), WHEN, Config())
    assert clean.fields["warning"] == "" and clean.fields["message"] == "0 posts, {new} new"
    failed = decide(feed, PollResult(status="error", error="down"), WHEN, Config())
    assert "warning" not in failed.fields  # a failed poll says nothing about the parts


def test_a_capped_backlog_is_polled_again_within_minutes() -> None:
    feed = Feed(id="f", url="mastodon:home", kind="mastodon")
    config = Config({"refresh_minutes": 60})
    more = decide(feed, PollResult(entries=[post("p", "@a@b.c")], more=True), WHEN, config)
    done = decide(feed, PollResult(entries=[post("p", "@a@b.c")]), WHEN, config)
    soon = parse_iso(more.fields["next_poll"]) - WHEN
    later = parse_iso(done.fields["next_poll"]) - WHEN
    assert timedelta(0) < soon <= timedelta(minutes=2) < timedelta(minutes=30) <= later
    assert more.fields["message"].endswith("; more to come next poll")
