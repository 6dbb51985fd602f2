"""Commands about subscriptions: add, remove, feed edit/restore, feeds, import, export,
refresh."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

from veille.cli.context import Ctx, Terminated, UserError, feed_by_ref
from veille.cli.output import json_lines, out, relative
from veille.domain.records import Feed
from veille.render.hygiene import clean_line
from veille.store.errors import StoreError
from veille.util.urls import shown


def cmd_add(ctx: Ctx, a: argparse.Namespace) -> int:
    from veille.subscriptions.subscribe import add_subscription

    res = asyncio.run(
        add_subscription(
            ctx.store,
            ctx.config,
            a.url,
            title=a.title or "",
            tags=a.tag,
            pick=a.pick,
            account=a.account,
        )
    )
    if res.candidates and not res.ok:
        out(res.message)
        for i, c in enumerate(res.candidates, 1):
            label = f" — {c.title}" if c.title else ""
            out(f"  {i}. {c.url}{label}")
        return 1 if res.feed is None else 0
    if not res.ok:
        raise UserError(res.message)
    ctx.save()
    out(res.message)
    if res.created and res.feed is not None and not a.no_fetch:
        from veille.refresh.runner import refresh_feeds

        summary = asyncio.run(
            refresh_feeds(ctx.store, ctx.config, feed_ids=[res.feed.id], cache_dir=ctx.paths.cache)
        )
        ctx.save()
        outcome = summary.outcomes[0] if summary.outcomes else None
        if outcome is not None:
            out(f"fetched: {outcome.message}")
    return 0


def cmd_remove(ctx: Ctx, a: argparse.Namespace) -> int:
    feed = feed_by_ref(ctx.store, a.feed)
    dropped = ctx.store.remove_feed(feed.id)
    ctx.save()
    out(f"removed {feed.url} ({dropped} items dropped; starred and shared items kept)")
    out(f"undo with `veille feed restore {feed.id}`")
    return 0


def cmd_feed_restore(ctx: Ctx, a: argparse.Namespace) -> int:
    store = ctx.store
    removed = store.removed_feeds()
    if a.list:
        if not removed:
            out("No removed feeds to restore.")
        for f, at, n in removed:
            out(f"{f.id}  {clean_line(f.name)}  (removed {relative(at)}, {n} items kept)")
        return 0
    if not removed:
        raise UserError("no removed feed to restore (removed feeds are kept 30 days)")
    feed = removed[0][0] if a.feed is None else _removed_by_ref(removed, a.feed)
    try:
        restored, n = store.restore_feed(feed.id)
    except StoreError as exc:
        raise UserError(str(exc)) from None
    ctx.save()
    out(f"restored {restored.url} with {n} items; `veille refresh {restored.id}` fetches it again")
    return 0


def _removed_by_ref(removed: list[tuple[Feed, str, int]], ref: str) -> Feed:
    from veille.util.urls import url_key

    hits = [f for f, _, _ in removed if f.id == ref or url_key(f.url) == url_key(ref)]
    if not hits and len(ref) >= 4:
        hits = [f for f, _, _ in removed if f.id.startswith(ref)]
    if len(hits) > 1:
        raise UserError(f"feed id '{ref}' is ambiguous ({len(hits)} removed feeds)")
    if not hits:
        raise UserError(f"no removed feed {ref} (see `veille feed restore --list`)")
    return hits[0]


def _interval(text: str) -> float | None:
    """``--interval``: config.parse_minutes, its complaint as the command's."""
    from veille.config import ConfigError, parse_minutes

    try:
        return parse_minutes(text)
    except ConfigError as exc:
        raise UserError(f"--interval: {exc}") from None


def cmd_feed_edit(ctx: Ctx, a: argparse.Namespace) -> int:
    from veille.subscriptions.subscribe import text_problem

    store = ctx.store
    feed = feed_by_ref(store, a.feed)
    if problem := text_problem(a.title or "", [*a.tag, *a.untag]):
        raise UserError(problem)
    changes: dict[str, Any] = {}
    said: list[str] = []
    if a.title is not None:
        title = clean_line(a.title)
        changes.update(title=title, user_title=bool(title))
        if not title:  # a 304 or an unchanged body would never bring the feed's own back
            changes.update(etag=None, last_modified=None, body_hash=None)
        said.append(
            f"title {shown(title)}" if title else "title: the feed's own from the next poll"
        )
    tags = list(feed.tags)
    added = [t for t in dict.fromkeys(clean_line(t) for t in a.tag) if t and t not in tags]
    gone = [t for t in dict.fromkeys(a.untag) if t in tags]
    missing = [t for t in dict.fromkeys(a.untag) if t not in tags]
    if added or gone:
        changes["tags"] = tuple(sorted({*tags, *added} - set(gone)))
    if added:
        said.append("tagged " + ", ".join(added))
    if gone:
        said.append("untagged " + ", ".join(gone))
    if missing:
        said.append("was not tagged " + ", ".join(missing))
    if a.interval is not None:
        changes["interval"] = _interval(a.interval)
        said.append(
            f"polled every {changes['interval']:g} minutes"
            if changes["interval"]
            else "polled as the config says"
        )
    if a.full_text is not None:
        changes["full_text"] = a.full_text
        said.append("full articles fetched" if a.full_text else "full articles not fetched")
    if a.mute is not None:
        changes["muted"] = a.mute
        said.append(
            "muted: still polled, its items are out of views and counts"
            if a.mute
            else "unmuted: its items are back"
        )
    if not said:
        raise UserError(
            "say what to change: --title, --tag, --untag, --interval, --full-text, "
            "--no-full-text, --mute or --unmute"
        )
    if changes:
        feed = store.update_feed(feed.id, **changes)
        ctx.save()
    out(f"{feed.url}: " + "; ".join(said))
    return 0


def feed_record(f: Feed, counts: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """A feed as `veille feeds --json` prints it (a contract: keep the names)."""
    items, unread = counts.get(f.id, (0, 0))
    return {
        "id": f.id,
        "url": f.url,
        "kind": f.kind,
        "title": f.title,
        "tags": list(f.tags),
        "account": f.account or None,
        "warning": f.warning or None,
        "last_fetch": f.last_fetch,
        "status": f.status,
        "message": f.message,
        "disabled": f.disabled,
        "items": items,
        "unread": unread,
        "next_poll": None if f.disabled else f.next_poll,
        "interval": f.interval,
        "full_text": f.full_text,
        "muted": f.muted,
    }


def cmd_feeds(ctx: Ctx, a: argparse.Namespace) -> int:
    store = ctx.store  # damaged files were named on opening it
    counts = store.counts()
    feeds = store.feeds()
    if a.json:
        json_lines(feed_record(f, counts) for f in feeds)
        return 0
    if not feeds:
        if store.problems:
            raise UserError("no feeds could be read: see the warnings above")
        out("No feeds yet. Add one with `veille add URL` or `veille import FILE.opml`.")
        return 0
    for f in feeds:
        r = feed_record(f, counts)
        # Titles, tags and messages come from feeds and servers: data, one clean line.
        tags = f"  [{', '.join(clean_line(t) for t in r['tags'])}]" if r["tags"] else ""
        out(f"{r['id']}  {clean_line(r['title'] or r['url'])}{tags}")
        through = f"  (through {clean_line(r['account'])})" if r["account"] else ""
        out(f"          {clean_line(r['url'])}{through}")
        state = r["status"] or "new"
        if r["disabled"]:
            nxt = "disabled: " + r["disabled"]
        else:
            nxt = "next poll " + (relative(r["next_poll"]) if r["next_poll"] else "now")
        settings = "".join(
            [
                f" · every {f.interval:g} min" if f.interval else "",
                " · full text" if f.full_text else "",
                " · muted" if f.muted else "",
            ]
        )
        out(
            f"          {r['items']} items, {r['unread']} unread · last fetch "
            f"{relative(r['last_fetch'])}: {state}: {clean_line(r['message'])} · "
            f"{clean_line(nxt)}{settings}"
        )
        if r["warning"]:
            out(f"          warning: {clean_line(r['warning'])}")
    return 0


def cmd_import(ctx: Ctx, a: argparse.Namespace) -> int:
    from veille.subscriptions.subscribe import OpmlError, import_opml

    try:
        added, known, skipped = import_opml(ctx.store, Path(a.file))
    except OpmlError as exc:
        raise UserError(f"{a.file}: {exc}") from None
    for s in skipped:
        print(f"veille: skipped {shown(s.url)}: {s.reason}", file=sys.stderr)
    ctx.save()
    msg = f"imported {added} feed{'s' if added != 1 else ''}"
    if known:
        msg += f", {known} already subscribed"
    if skipped:
        msg += f", {len(skipped)} skipped"
    out(msg + ". Run `veille refresh` to fetch them.")
    return 1 if skipped and not (added or known) else 0


def cmd_export(ctx: Ctx, a: argparse.Namespace) -> int:
    from veille.subscriptions.subscribe import export_opml
    from veille.util.atomicfile import write_atomic

    text = export_opml(ctx.store)
    if a.file and a.file != "-":
        write_atomic(Path(a.file), text.encode("utf-8"))
        print(f"exported {len(ctx.store.feeds())} feeds to {a.file}", file=sys.stderr)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def cmd_refresh(ctx: Ctx, a: argparse.Namespace) -> int:
    from veille.refresh.decide import select_feeds
    from veille.refresh.pool import fork_pool
    from veille.refresh.runner import needs_pool, workers_for
    from veille.util.dates import now

    # The store opens without its flusher thread, so the parser pool can be
    # forked safely (only when enough bodies will need parsing: a warm refresh
    # never starts processes); then the flusher starts.
    # A refresh touches every day file again and again: flushing every 5 s, not
    # every 0.2 s, writes each of them a few times instead of dozens (a cold
    # refresh of 10,000 items rewrote ~100 MB).  The write order keeps it
    # crash-safe; a kill only costs the unwritten part, which the next refresh
    # fetches again.
    # lazy=0: items are read when the first new entry comes, not at all when
    # every feed answers "not modified" (a warm refresh of a 100k-item store).
    store = ctx.open_store(autoflush=False, flush_delay=5.0, lazy=0)
    if store.problems and not store.feeds():
        raise UserError("no feeds could be read (see the warning above): nothing was polled")
    ids = [feed_by_ref(store, u).id for u in a.urls] if a.urls else None
    chosen, _ = select_feeds(store.feeds(), when=now(), feed_ids=ids, due_only=a.due)
    pool = fork_pool(workers_for(ctx.config)) if needs_pool(chosen) else None
    store.start_flusher()
    finished = False
    try:
        code = _refresh(ctx, a, ids, pool)
        finished = True
        return code
    finally:
        if pool is not None:
            # Interrupted (ctrl+c, SIGTERM to the group: the workers may be dead
            # already), waiting for the pool can hang; the workers end with
            # their parent anyway (refresh/pool.py).
            pool.shutdown(wait=finished, cancel_futures=True)


def _refresh(ctx: Ctx, a: argparse.Namespace, ids: list[str] | None, pool: Any) -> int:
    from veille.refresh.runner import Progress, Summary, refresh_feeds

    tty = sys.stderr.isatty() and not a.quiet
    bar = _progress_bar() if tty else None

    def show(p: Progress) -> None:
        assert bar is not None
        if not bar.tasks:
            bar.add_task("refresh", total=p.total, stats="")
        stats = f"{p.done}/{p.total} feeds · {p.new_items} new · {p.errors} errors"
        bar.update(bar.tasks[0].id, completed=p.done, total=p.total, stats=stats)

    async def run() -> Summary:
        # SIGTERM (timeout, init systems) cancels the refresh like ctrl+c does:
        # the tasks unwind, the store is flushed in order, the pool shut down.
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        terminated = []

        def on_term() -> None:
            terminated.append(True)
            task.cancel()

        previous = signal.getsignal(signal.SIGTERM)
        loop.add_signal_handler(signal.SIGTERM, on_term)
        try:
            return await refresh_feeds(
                ctx.store,
                ctx.config,
                feed_ids=ids,
                due_only=a.due,
                on_progress=show if tty else None,
                executor=pool,
                cache_dir=ctx.paths.cache,
            )
        except asyncio.CancelledError:
            if terminated:
                raise Terminated from None
            raise
        finally:
            loop.remove_signal_handler(signal.SIGTERM)
            signal.signal(signal.SIGTERM, previous)  # the CLI's own: unwind and flush

    if bar is None:
        summary = asyncio.run(run())
    else:
        with bar:  # transient: gone once done, the summary line stays
            summary = asyncio.run(run())
    ctx.save()
    if not a.quiet or summary.errors:
        out(summary.line())
    if summary.feeds and summary.fetched == 0:
        return 1
    return 0


def _progress_bar() -> Any:
    """The refresh's bar on a terminal (rich, which Textual brings: imported only
    here, so a cron refresh never pays for it).  Feed titles never go in it: the
    counts are all it shows, so no server text reaches the terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn

    return Progress(
        BarColumn(bar_width=24),
        TextColumn("{task.fields[stats]}", markup=False),
        console=Console(stderr=True),
        transient=True,
    )


def register(sub: Any) -> None:
    s = sub.add_parser(
        "add",
        help="subscribe to a feed, a page that links to feeds, or a social source",
        description=(
            "Subscribe to a feed URL, a web page that links to feeds, a Mastodon or "
            "Bluesky profile, a YouTube channel, a GitHub repository, a subreddit, "
            "Hacker News, or a social source: mastodon:home, mastodon:list/ID, "
            "mastodon:tag/NAME, mastodon:@user@instance, bluesky:following, "
            "bluesky:@handle, bluesky:timeline, bluesky:feed/AT-URI."
        ),
    )
    s.add_argument("url", help="feed or page URL, profile address, or source name")
    s.add_argument("--tag", action="append", default=[], help="tag (repeatable)")
    s.add_argument("--title", help="your own title for the feed")
    s.add_argument("--pick", type=int, help="which of several discovered feeds (1-based)")
    s.add_argument("--no-fetch", action="store_true", help="do not fetch it right away")
    s.add_argument(
        "--account",
        metavar="NAME",
        help="the account a social source reads through (default: your only one of its kind)",
    )
    s.set_defaults(func=cmd_add)

    s = sub.add_parser(
        "remove", help="unsubscribe (starred and shared items are kept; `feed restore` undoes it)"
    )
    s.add_argument(
        "feed", metavar="URL|ID", help="the feed's URL, id, or id prefix (4+ characters)"
    )
    s.set_defaults(func=cmd_remove)

    s = sub.add_parser("feed", help="one feed's settings: edit, restore")
    feed_sub = s.add_subparsers(dest="feed_command", metavar="ACTION", required=True)
    e = feed_sub.add_parser("edit", help="change a feed's title, tags, interval, full text, muting")
    e.add_argument(
        "feed", metavar="URL|ID", help="the feed's URL, id, or id prefix (4+ characters)"
    )
    e.add_argument("--title", help='your own title ("" gives back the feed\'s own)')
    e.add_argument("--tag", action="append", default=[], help="add this tag (repeatable)")
    e.add_argument("--untag", action="append", default=[], help="remove this tag (repeatable)")
    e.add_argument(
        "--interval",
        metavar="MINUTES",
        help="poll every MINUTES minutes ('default': as the config says)",
    )
    g = e.add_mutually_exclusive_group()
    g.add_argument(
        "--full-text",
        dest="full_text",
        action="store_const",
        const=True,
        help="fetch each item's full article from its page",
    )
    g.add_argument(
        "--no-full-text",
        dest="full_text",
        action="store_const",
        const=False,
        help="show what the feed gives (the default)",
    )
    g = e.add_mutually_exclusive_group()
    g.add_argument(
        "--mute",
        dest="mute",
        action="store_const",
        const=True,
        help="keep polling but hide its items from views and counts",
    )
    g.add_argument(
        "--unmute", dest="mute", action="store_const", const=False, help="show its items again"
    )
    e.set_defaults(func=cmd_feed_edit)
    r = feed_sub.add_parser("restore", help="subscribe again to a feed you removed")
    r.add_argument(
        "feed",
        nargs="?",
        metavar="URL|ID",
        help="which removed feed (default: the last one removed)",
    )
    r.add_argument("--list", action="store_true", help="list the feeds that can be restored")
    r.set_defaults(func=cmd_feed_restore)

    s = sub.add_parser("feeds", help="list feeds with their fetch status")
    s.add_argument("--json", action="store_true", help="JSON Lines")
    s.set_defaults(func=cmd_feeds)

    s = sub.add_parser("import", help="import an OPML file (all or nothing)")
    s.add_argument("file", help="the OPML file; its folders become tags")
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("export", help="export subscriptions as OPML 2.0")
    s.add_argument("file", nargs="?", help="output file (default: stdout)")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("refresh", help="poll feeds")
    s.add_argument("urls", nargs="*", metavar="URL", help="only these feeds (URL or id)")
    s.add_argument("--due", action="store_true", help="only feeds whose next poll time has come")
    s.add_argument("--quiet", "-q", action="store_true", help="print only errors")
    s.set_defaults(func=cmd_refresh)
