"""Commands about subscriptions: add, remove, feeds, import, export, refresh."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

from veille.cli.context import Ctx, Terminated, UserError, feed_by_ref
from veille.cli.output import json_line, out, relative
from veille.domain.records import Feed
from veille.util.urls import shown


def cmd_add(ctx: Ctx, a: argparse.Namespace) -> int:
    from veille.subscriptions.subscribe import add_subscription

    res = asyncio.run(
        add_subscription(ctx.store, ctx.config, a.url, title=a.title or "", tags=a.tag, pick=a.pick)
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

        summary = asyncio.run(refresh_feeds(ctx.store, ctx.config, feed_ids=[res.feed.id]))
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
        for f in feeds:
            json_line(feed_record(f, counts))
        return 0
    if not feeds:
        if store.problems:
            raise UserError("no feeds could be read: see the warnings above")
        out("No feeds yet. Add one with `veille add URL` or `veille import FILE.opml`.")
        return 0
    for f in feeds:
        r = feed_record(f, counts)
        tags = f"  [{', '.join(r['tags'])}]" if r["tags"] else ""
        out(f"{r['id']}  {r['title'] or r['url']}{tags}")
        out(f"          {r['url']}")
        state = r["status"] or "new"
        if r["disabled"]:
            nxt = "disabled: " + r["disabled"]
        else:
            nxt = "next poll " + (relative(r["next_poll"]) if r["next_poll"] else "now")
        out(
            f"          {r['items']} items, {r['unread']} unread · last fetch "
            f"{relative(r['last_fetch'])}: {state}: {r['message']} · {nxt}"
        )
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
    # A refresh writes in bursts: flushing every second instead of every 0.2 s
    # rewrites each touched day file fewer times (order keeps it crash-safe).
    store = ctx.open_store(autoflush=False, flush_delay=1.0)
    if store.problems and not store.feeds():
        raise UserError("no feeds could be read (see the warning above): nothing was polled")
    ids = [feed_by_ref(store, u).id for u in a.urls] if a.urls else None
    chosen, _ = select_feeds(store.feeds(), when=now(), feed_ids=ids, due_only=a.due)
    pool = fork_pool(workers_for(ctx.config)) if needs_pool(chosen) else None
    store.start_flusher()
    try:
        return _refresh(ctx, a, ids, pool)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _refresh(ctx: Ctx, a: argparse.Namespace, ids: list[str] | None, pool: Any) -> int:
    from veille.refresh.runner import Progress, Summary, refresh_feeds

    tty = sys.stderr.isatty() and not a.quiet

    def show(p: Progress) -> None:
        width = 24
        filled = int(width * p.done / max(p.total, 1))
        bar = "█" * filled + "·" * (width - filled)
        sys.stderr.write(
            f"\r{bar} {p.done}/{p.total} feeds · {p.new_items} new · {p.errors} errors\x1b[K"
        )
        sys.stderr.flush()

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
                accounts=_accounts(ctx),
                secrets=None,
            )
        except asyncio.CancelledError:
            if terminated:
                raise Terminated from None
            raise
        finally:
            loop.remove_signal_handler(signal.SIGTERM)
            signal.signal(signal.SIGTERM, previous)  # the CLI's own: unwind and flush

    summary = asyncio.run(run())
    if tty and summary.feeds:
        sys.stderr.write("\r\x1b[K")
    ctx.save()
    if not a.quiet or summary.errors:
        out(summary.line())
    if summary.feeds and summary.fetched == 0:
        return 1
    return 0


def _accounts(ctx: Ctx) -> dict[str, Any]:
    """Accounts for social sources; a broken [accounts] table only affects those."""
    if not any(f.kind != "feed" for f in ctx.store.feeds()):
        return {}
    from veille.accounts.config import AccountError, load_accounts
    from veille.share.outbox import data_dir

    try:
        return dict(load_accounts(ctx.config, data_dir(ctx.store)))
    except AccountError:
        return {}


def register(sub: Any) -> None:
    s = sub.add_parser("add", help="subscribe to a feed or a page that links to feeds")
    s.add_argument("url", help="feed URL or web page URL")
    s.add_argument("--tag", action="append", default=[], help="tag (repeatable)")
    s.add_argument("--title", help="your own title for the feed")
    s.add_argument("--pick", type=int, help="which of several discovered feeds (1-based)")
    s.add_argument("--no-fetch", action="store_true", help="do not fetch it right away")
    s.set_defaults(func=cmd_add)

    s = sub.add_parser("remove", help="unsubscribe (starred and shared items are kept)")
    s.add_argument("feed", metavar="URL|ID")
    s.set_defaults(func=cmd_remove)

    s = sub.add_parser("feeds", help="list feeds with their fetch status")
    s.add_argument("--json", action="store_true", help="JSON Lines")
    s.set_defaults(func=cmd_feeds)

    s = sub.add_parser("import", help="import an OPML file (all or nothing)")
    s.add_argument("file")
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("export", help="export subscriptions as OPML 2.0")
    s.add_argument("file", nargs="?", help="output file (default: stdout)")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("refresh", help="poll feeds")
    s.add_argument("urls", nargs="*", metavar="URL", help="only these feeds (URL or id)")
    s.add_argument("--due", action="store_true", help="only feeds whose next poll time has come")
    s.add_argument("--quiet", "-q", action="store_true", help="print only errors")
    s.set_defaults(func=cmd_refresh)
