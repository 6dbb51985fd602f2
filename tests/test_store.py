"""The store: identity, updates, state, retention, crash safety, two processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import orjson
import pytest

from veille.domain.entries import ParsedEntry, ParsedFeed
from veille.domain.filter import ItemFilter
from veille.domain.share import Share
from veille.store.jsonfile import load
from veille.store.store import Store, StoreError, StoreWriteError
from veille.util.atomicfile import write_atomic


def feed_of(n: int, prefix: str = "k", **kw) -> ParsedFeed:
    return ParsedFeed(
        title="T",
        entries=[
            ParsedEntry(
                key=f"{prefix}{i}",
                title=f"title {i}",
                link=f"https://example.com/{prefix}{i}",
                published=f"2026-{1 + i % 9:02d}-0{1 + i % 8}T00:00:00Z",
                content=f"<p>body {i}</p>",
                **kw,
            )
            for i in range(n)
        ],
    )


@pytest.fixture
def store(tmp_path: Path):
    s = Store(tmp_path / "store")
    yield s
    s.close()


def test_reupsert_never_duplicates_and_update_keeps_state(store: Store) -> None:
    f, created = store.add_feed("https://example.com/feed")
    assert created
    assert store.upsert_entries(f.id, feed_of(10)).new == 10
    assert store.upsert_entries(f.id, feed_of(10)).new == 0
    assert len(store) == 10
    first = store.ordered_ids()[0]
    store.set_state([first], read=True, starred=True)
    changed = feed_of(10)
    for e in changed.entries:
        e.title += " (updated)"
    res = store.upsert_entries(f.id, changed)
    assert (res.new, res.updated) == (0, 10)
    item = store.get_item(first)
    assert item.title.endswith("(updated)")
    assert item.read and item.starred


def test_content_only_changes_update_at_most_24_times(store: Store) -> None:
    f, _ = store.add_feed("https://example.com/feed")
    updates = 0
    for i in range(30):
        pf = feed_of(1)
        pf.entries[0].content = f"<p>generated at {i}</p>"
        updates += store.upsert_entries(f.id, pf).updated
    assert updates == 24


def test_adding_same_feed_twice_is_a_noop(store: Store) -> None:
    a, created_a = store.add_feed("https://example.com/feed")
    b, created_b = store.add_feed("https://example.com/feed/")
    assert created_a and not created_b
    assert a.id == b.id
    assert len(store.feeds()) == 1


def test_items_newest_first_and_filters(store: Store) -> None:
    f, _ = store.add_feed("https://a.example/feed", tags=["news"])
    g, _ = store.add_feed("https://b.example/feed")
    store.upsert_entries(f.id, feed_of(5, "a"))
    store.upsert_entries(g.id, feed_of(5, "b"))
    items = store.items()
    sorts = [d.sort for d in items]
    assert sorts == sorted(sorts, reverse=True)
    assert {d.feed for d in store.items(ItemFilter(tag="news"))} == {f.id}
    store.set_state([items[0].id], starred=True)
    assert [d.id for d in store.items(ItemFilter(starred=True))] == [items[0].id]
    assert len(store.items(ItemFilter(search="TITLE 3"))) == 2
    assert len(store.items(ItemFilter(unread=True), limit=3)) == 3


def test_new_entries_of_known_feed_sort_by_arrival(store: Store) -> None:
    f, _ = store.add_feed("https://a.example/feed")
    store.upsert_entries(f.id, feed_of(3))
    late = ParsedFeed(
        entries=[ParsedEntry(key="old", title="back-dated", published="2001-01-01T00:00:00Z")]
    )
    store.upsert_entries(f.id, late)
    assert store.items(limit=1)[0].title == "back-dated"


def test_state_change_is_written_by_the_flusher(tmp_path: Path) -> None:
    s = Store(tmp_path / "st", flush_delay=0.05)
    f, _ = s.add_feed("https://a.example/feed")
    s.upsert_entries(f.id, feed_of(3))
    iid = s.ordered_ids()[0]
    s.flush()
    part = next(
        p
        for p in (tmp_path / "st" / "items").glob("*.json")
        if iid in (load(p) or {}).get("items", {})
    )
    s.set_state([iid], read=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        data = load(part)
        if data and data["items"][iid]["read"]:
            break
        time.sleep(0.02)
    else:
        pytest.fail("the flusher never wrote the state change")
    s.close()


def test_unknown_and_ambiguous_ids(store: Store) -> None:
    f, _ = store.add_feed("https://a.example/feed")
    store.upsert_entries(f.id, feed_of(3))
    iid = store.ordered_ids()[0]
    assert store.resolve_id(iid[:6]) == iid
    with pytest.raises(StoreError, match="unknown item id"):
        store.resolve_id("zzzzzz")
    with pytest.raises(StoreError, match="unknown item id"):
        store.set_state(["nope"], read=True)


def test_retention_spares_unread_starred_shared_and_stays_dead(store: Store) -> None:
    f, _ = store.add_feed("https://a.example/feed")
    store.upsert_entries(f.id, feed_of(10))
    ids = store.ordered_ids()
    store.set_state(ids, read=True)
    store.set_state(ids[5:6], starred=True)
    store.set_state(ids[6:7], shared=True)
    store.set_state(ids[7:8], read=False)
    removed = store.apply_retention(keep_days=90, max_per_feed=3)
    kept = set(store.ordered_ids())
    assert set(ids[:3]) <= kept  # the 3 newest
    assert {ids[5], ids[6], ids[7]} <= kept
    assert removed == 4
    # The dropped entries are still in the feed: they must not come back unread.
    assert store.upsert_entries(f.id, feed_of(10)).new == 0


def test_remove_feed_keeps_starred(store: Store) -> None:
    f, _ = store.add_feed("https://a.example/feed")
    store.upsert_entries(f.id, feed_of(4))
    keep = store.ordered_ids()[0]
    store.set_state([keep], starred=True)
    assert store.remove_feed(f.id) == 3
    assert store.ordered_ids() == [keep]
    assert store.feeds() == []


def test_reopen_reads_everything_back(tmp_path: Path) -> None:
    with Store(tmp_path / "s") as s:
        f, _ = s.add_feed("https://a.example/feed")
        s.upsert_entries(f.id, feed_of(20))
        iid = s.ordered_ids()[3]
        s.set_state([iid], starred=True, tags=["ai"])
    with Store(tmp_path / "s") as s2:
        assert len(s2) == 20
        assert s2.get_item(iid).tags == ("ai",)
        assert s2.get_content(iid).html.startswith("<p>body")


def test_corrupt_file_is_set_aside_and_store_reopens(tmp_path: Path) -> None:
    with Store(tmp_path / "s") as s:
        f, _ = s.add_feed("https://a.example/feed")
        s.upsert_entries(f.id, feed_of(3), feed_fields={"etag": '"v1"', "body_hash": "abc"})
        assert s.get_feed(f.id).etag == '"v1"'
    part = next((tmp_path / "s" / "items").glob("*.json"))
    part.write_bytes(b'{"items": {"abc": ')
    with Store(tmp_path / "s") as s2:
        assert s2.feeds()  # the rest is intact
        # Named, not silently dropped; and its feed will be fetched in full again.
        assert any(part.name in p and "damaged" in p for p in s2.problems)
        assert s2.get_feed(f.id).etag is None and s2.get_feed(f.id).body_hash is None
    (aside,) = (tmp_path / "s" / "items").glob("*.damaged-*")
    assert aside.read_bytes() == b'{"items": {"abc": '  # its bytes are kept


def test_atomic_write_leaves_old_content_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    write_atomic(target, b'{"v": 1}')

    with pytest.raises(TypeError):
        write_atomic(target, object())  # type: ignore[arg-type]
    assert orjson.loads(target.read_bytes()) == {"v": 1}
    assert not list(tmp_path.glob(".*.tmp"))


WRITER = textwrap.dedent(
    """
    import sys, itertools
    from veille.store.store import Store
    from veille.domain.entries import ParsedEntry, ParsedFeed
    s = Store(sys.argv[1], flush_delay=0.0)
    f, _ = s.add_feed("https://a.example/feed")
    print("ready", flush=True)
    for n in itertools.count():
        s.upsert_entries(f.id, ParsedFeed(entries=[
            ParsedEntry(key=f"k{n}-{i}", title="x" * 200, content="<p>" + "y" * 2000 + "</p>")
            for i in range(20)]))
        ids = s.ordered_ids()[:50]
        s.set_state(ids, read=bool(n % 2))
        s.flush()
    """
)


def test_kill_9_at_any_moment_never_corrupts(tmp_path: Path) -> None:
    root = tmp_path / "s"
    for round_ in range(6):
        p = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(root)], stdout=subprocess.PIPE, text=True
        )
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        time.sleep(0.15 + 0.11 * round_)  # land the kill at different points of a write
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        # Every file is complete JSON, and the store opens with no user action.
        for path in root.rglob("*.json"):
            assert isinstance(orjson.loads(path.read_bytes()), dict), path
        with Store(root) as s:
            n = len(s)
            assert n > 0 and n % 20 == 0  # whole refresh batches only
            assert len(s.feeds()) == 1
    assert not list(root.rglob(".*.tmp"))


TWO_PROC = textwrap.dedent(
    """
    import sys, time
    from veille.store.store import Store
    from veille.domain.entries import ParsedEntry, ParsedFeed
    role, root = sys.argv[1], sys.argv[2]
    s = Store(root, flush_delay=0.01)
    if role == "tui":
        ids = [i for i in s.ordered_ids() if s.get_item(i).title != "new"]
        for i, iid in enumerate(ids):       # mark every item read, one keypress at a time
            s.set_state([iid], read=True)
            if i % 7 == 0:
                s.set_state([iid], starred=True)
            time.sleep(0.002)
            if i % 25 == 0:
                s.sync()
    else:                                    # a cron refresh adding items meanwhile
        f = s.feeds()[0]
        for n in range(40):
            s.upsert_entries(f.id, ParsedFeed(entries=[
                ParsedEntry(key=f"new{n}-{i}", title="new", published="2026-03-01T00:00:00Z")
                for i in range(5)]))
            s.flush()
            time.sleep(0.005)
    s.close()
    """
)


def test_two_processes_never_lose_each_others_writes(tmp_path: Path) -> None:
    root = tmp_path / "s"
    with Store(root) as s:
        f, _ = s.add_feed("https://a.example/feed")
        s.upsert_entries(f.id, feed_of(300))  # spread over 9 month files
        before = set(s.ordered_ids())
    procs = [
        subprocess.Popen([sys.executable, "-c", TWO_PROC, role, str(root)])
        for role in ("tui", "cron")
    ]
    for p in procs:
        assert p.wait(timeout=120) == 0
    with Store(root) as s:
        after = s.ordered_ids()
        assert len(after) == 300 + 200  # every item the cron process added
        assert before <= set(after)
        old = [s.get_item(i) for i in before]
        assert all(d.read for d in old)  # every keypress of the "TUI"
        assert sum(bool(d.starred) for d in old) == len(range(0, 300, 7))


def test_sync_sees_other_process_items(tmp_path: Path) -> None:
    root = tmp_path / "s"
    a = Store(root, flush_delay=0.01)
    f, _ = a.add_feed("https://a.example/feed")
    a.flush()
    b = Store(root, flush_delay=0.01)
    b.upsert_entries(f.id, feed_of(4))
    b.flush()
    assert len(a) == 0
    assert a.sync() is True
    assert len(a) == 4
    assert a.sync() is False
    a.close()
    b.close()


def test_lazy_open_reads_newest_months_first_then_the_rest(tmp_path: Path) -> None:
    with Store(tmp_path / "s") as s:
        f, _ = s.add_feed("https://a.example/feed")
        s.upsert_entries(f.id, feed_of(90))  # 9 month files of 10 items
        newest = s.ordered_ids()[:10]
        everything = s.ordered_ids()
    lazy = Store(tmp_path / "s", lazy=10)
    try:
        assert lazy.ordered_ids() == newest  # the first screen is there at once
        assert not lazy.loaded.is_set()
        lazy.load_rest()
        assert lazy.loaded.is_set()
        assert lazy.ordered_ids() == everything
        # A refresh after a lazy open never mistakes an old entry for a new one.
        assert lazy.upsert_entries(f.id, feed_of(90)).new == 0
    finally:
        lazy.close()


def test_search_covers_title_author_summary_comment_and_source(store: Store) -> None:
    f, _ = store.add_feed("https://a.example/feed", title="Straße Weekly")
    pf = feed_of(3)
    pf.entries[0].author = "Ada LOVELACE"
    pf.entries[1].summary = "about Analytical Engines"
    store.upsert_entries(f.id, pf)
    ids = store.ordered_ids()
    assert store.search_ids("lovelace") == {store.items(ItemFilter(search="Lovelace"))[0].id}
    assert len(store.search_ids("analytical engines")) == 1
    assert store.search_ids("STRASSE") == set(ids)  # casefold: ß == ss, via the source
    assert store.search_ids("nothing like this") == set()
    store.put_share(
        Share(id="s1", item_id=ids[2], comment="why this matters to curators", created=""),
        durable=False,
    )
    assert store.search_ids("matters to curators") == {ids[2]}
    pf.entries[2].title = "renamed headline"
    store.upsert_entries(f.id, pf)
    assert len(store.search_ids("renamed headline")) == 1  # the index follows updates


def test_a_lone_surrogate_never_blocks_the_flush(tmp_path: Path) -> None:
    """A mis-decoded argument (a lone surrogate) used to make every later flush
    of its file fail, losing the whole run's changes."""
    with Store(tmp_path / "s") as s:
        f, _ = s.add_feed("https://a.example/feed", title="bad \udcff title")
        s.upsert_entries(f.id, feed_of(2))
    with Store(tmp_path / "s") as s2:
        assert len(s2) == 2
        assert s2.get_feed(f.id).title == "bad ? title"


def test_a_feed_is_never_on_disk_as_fetched_before_its_items(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The feeds file (status, ETag, body hash) is written after the items it vouches
    for: if writing the items fails (or the process dies first), the feed is not
    recorded as fetched, and the next refresh fetches it in full again."""
    s = Store(tmp_path / "s", autoflush=False)
    f, _ = s.add_feed("https://a.example/feed")
    s.flush()
    s.upsert_entries(f.id, feed_of(3), feed_fields={"etag": '"v1"', "status": "ok"})
    from veille.util import atomicfile

    real_write = atomicfile._write_temp

    def items_fail(path: Path, target: tuple[Path, int], data: bytes) -> Path:
        if path.parent.name == "items":
            raise OSError(28, "No space left on device")
        return real_write(path, target, data)

    monkeypatch.setattr(atomicfile, "_write_temp", items_fail)
    with pytest.raises(StoreWriteError):
        s.flush()
    on_disk = load(tmp_path / "s" / "feeds.json")
    assert on_disk["feeds"][f.id].get("etag") is None  # not claimed before its items
    monkeypatch.setattr(atomicfile, "_write_temp", real_write)
    s.close()  # the next flush writes both
    with Store(tmp_path / "s", autoflush=False) as again:
        assert again.get_feed(f.id).etag == '"v1"' and len(again) == 3


def test_a_flush_waits_for_the_one_under_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app's exit (a closed terminal) flushes, then leaves at once.  If the
    flusher thread is writing right then, its changes are no longer pending:
    that flush must wait for it, not see "nothing to write" and let the exit
    cut the write short (the fault table caught stars lost this way)."""
    import threading

    from veille.util import atomicfile

    s = Store(tmp_path / "s", autoflush=False)
    f, _ = s.add_feed("https://a.example/feed")
    s.upsert_entries(f.id, feed_of(3))
    s.flush()
    ids = [it.id for it in s.items()]
    s.set_state(ids, starred=True)

    real_write = atomicfile._write_temp
    writing, release = threading.Event(), threading.Event()

    def slow_write(path: Path, target: tuple[Path, int], data: bytes, **kw: bool) -> Path:
        writing.set()
        release.wait(10)
        return real_write(path, target, data, **kw)

    monkeypatch.setattr(atomicfile, "_write_temp", slow_write)
    background = threading.Thread(target=s.flush)  # as the flusher thread would
    background.start()
    assert writing.wait(10)
    exiting = threading.Thread(target=s.flush)  # as the app's exit does
    exiting.start()
    exiting.join(0.5)
    alive = exiting.is_alive()
    release.set()
    exiting.join(10)
    background.join(10)
    assert alive  # it waited for the write under way
    s.close()
    with Store(tmp_path / "s") as again:
        assert all(it.starred for it in again.items())


def test_a_damaged_feeds_file_is_recovered_from_its_previous_version(tmp_path: Path) -> None:
    """The subscriptions are the file whose loss hurts most: each write keeps the
    version it replaces (feeds.json.prev), read back when feeds.json is damaged."""
    with Store(tmp_path / "s") as s:
        s.add_feed("https://a.example/feed", title="A")
        s.flush()
        b, _ = s.add_feed("https://b.example/feed", title="B")
        s.flush()
        s.update_feed(b.id, title="B renamed")
    feeds = tmp_path / "s" / "feeds.json"
    feeds.write_bytes(b"\x00 garbage {{{")
    with Store(tmp_path / "s") as s2:
        assert {f.url for f in s2.feeds()} == {"https://a.example/feed", "https://b.example/feed"}
        (problem,) = s2.problems
        assert "feeds.json is damaged" in problem and "feeds.json.prev" in problem
        assert "2 subscriptions restored" in problem
    # Written back whole: the next opening finds nothing wrong.
    with Store(tmp_path / "s") as s3:
        assert not s3.problems and len(s3.feeds()) == 2
    assert list((tmp_path / "s").glob("feeds.json.damaged-*"))  # the bad bytes are kept


def test_feeds_are_listed_by_name_as_people_read_numbers(tmp_path: Path) -> None:
    """ "Feed 2" before "Feed 10", case aside (the feeds pane and `veille feeds`)."""
    store = Store(tmp_path / "store")
    for title in ("feed 10", "Feed 2", "feed 1", "Alpha"):
        store.add_feed(f"https://x.example/{title.replace(' ', '')}.xml", title=title)
    assert [f.name for f in store.feeds()] == ["Alpha", "feed 1", "Feed 2", "feed 10"]
    store.close()


def test_records_read_in_a_thread_while_keys_are_pressed(tmp_path: Path) -> None:
    """A view built in a worker thread reads documents while the main thread stars
    items (which adds keys to them): the reads must never see a document mid-change
    (this raised "dictionary changed size during iteration")."""
    import threading

    s = Store(tmp_path / "s", autoflush=False)
    f, _ = s.add_feed("https://a.example/feed")
    s.upsert_entries(f.id, feed_of(4000))
    ids = s.ordered_ids()
    errors: list[Exception] = []
    done = threading.Event()

    def reader() -> None:
        try:
            while not done.is_set():
                for _ in s.get_items(ids):
                    pass
        except Exception as exc:
            errors.append(exc)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    t = threading.Thread(target=reader)
    try:
        t.start()
        # each adds a key the documents did not have
        for changes in ({"starred": True}, {"shared": True}, {"tags": ["x"]}, {"read": True}):
            for iid in ids:
                s.set_state([iid], **changes)
                if errors:
                    break
    finally:
        done.set()
        t.join(30)
        sys.setswitchinterval(old)
        s.close()
    assert not errors, errors[0]
