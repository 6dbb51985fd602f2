"""The `veille` command line.  With no subcommand it opens the full-screen app.

This contract is used by other tools: keep the names.  ``--json`` always means
JSON Lines (one object per line).  Errors are one line on stderr; tracebacks go
to the log file only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from veille import __version__
from veille.config import Config, ConfigError, load_config
from veille.paths import Paths, get_paths
from veille.store.store import Store, StoreError
from veille.util.dates import age, now, parse_iso

log = logging.getLogger("veille")
LAZY_FIRST_ITEMS = 3000


class UserError(Exception):
    """Bad input from the user: printed as one line, exit status 1 (or .code)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


# ------------------------------------------------------------------ helpers
class Ctx:
    """Paths, config and (lazily) the store for one command."""

    def __init__(self, paths: Paths, config: Config) -> None:
        self.paths = paths
        self.config = config
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.paths.store)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")


def _json(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


def _feed_by_ref(store: Store, ref: str) -> dict[str, Any]:
    feed = store.find_feed(ref)
    if feed is None:
        raise UserError(f"no such feed: {ref} (see `veille feeds`)")
    return feed


def _relative(ts: str | None) -> str:
    dt = parse_iso(ts)
    if dt is None:
        return "never"
    secs = (dt - now()).total_seconds()
    if secs > 0:
        from veille.refresh.schedule import describe_next

        return describe_next(dt, now())
    if secs > -60:
        return "just now"
    return f"{age(ts)} ago"


# ----------------------------------------------------------------- commands
def cmd_add(ctx: Ctx, a: argparse.Namespace) -> int:
    from veille.subscriptions.subscribe import add_subscription

    res = asyncio.run(
        add_subscription(ctx.store, ctx.config, a.url, title=a.title or "", tags=a.tag, pick=a.pick)
    )
    if res.candidates and not res.ok:
        _out(res.message)
        for i, c in enumerate(res.candidates, 1):
            label = f" — {c.title}" if c.title else ""
            _out(f"  {i}. {c.url}{label}")
        return 1 if res.feed is None else 0
    if not res.ok:
        raise UserError(res.message)
    _out(res.message)
    if res.created and res.feed is not None and not a.no_fetch:
        from veille.refresh.runner import refresh_feeds

        summary = asyncio.run(refresh_feeds(ctx.store, ctx.config, feed_ids=[res.feed["id"]]))
        out = summary.outcomes[0] if summary.outcomes else None
        if out is not None:
            _out(f"fetched: {out.message}")
    return 0


def cmd_remove(ctx: Ctx, a: argparse.Namespace) -> int:
    feed = _feed_by_ref(ctx.store, a.feed)
    dropped = ctx.store.remove_feed(feed["id"])
    _out(f"removed {feed['url']} ({dropped} items dropped; starred and shared items kept)")
    return 0


def _feed_record(
    store: Store, f: dict[str, Any], counts: dict[str, tuple[int, int]]
) -> dict[str, Any]:
    items, unread = counts.get(f["id"], (0, 0))
    return {
        "id": f["id"],
        "url": f["url"],
        "title": f.get("title") or "",
        "tags": f.get("tags", []),
        "last_fetch": f.get("last_fetch"),
        "status": f.get("status"),
        "message": f.get("message") or "",
        "disabled": f.get("disabled"),
        "items": items,
        "unread": unread,
        "next_poll": None if f.get("disabled") else f.get("next_poll"),
    }


def cmd_feeds(ctx: Ctx, a: argparse.Namespace) -> int:
    store = ctx.store
    counts = store.counts()
    feeds = store.feeds()
    if a.json:
        for f in feeds:
            _json(_feed_record(store, f, counts))
        return 0
    if not feeds:
        _out("No feeds yet. Add one with `veille add URL` or `veille import FILE.opml`.")
        return 0
    for f in feeds:
        r = _feed_record(store, f, counts)
        tags = f"  [{', '.join(r['tags'])}]" if r["tags"] else ""
        _out(f"{r['id']}  {r['title'] or r['url']}{tags}")
        _out(f"          {r['url']}")
        state = r["status"] or "new"
        if r["disabled"]:
            nxt = "disabled: " + r["disabled"]
        else:
            nxt = "next poll " + (_relative(r["next_poll"]) if r["next_poll"] else "now")
        _out(
            f"          {r['items']} items, {r['unread']} unread · last fetch "
            f"{_relative(r['last_fetch'])}: {state}: {r['message']} · {nxt}"
        )
    return 0


def cmd_import(ctx: Ctx, a: argparse.Namespace) -> int:
    from veille.subscriptions.subscribe import OpmlError, import_opml

    try:
        added, known, skipped = import_opml(ctx.store, Path(a.file))
    except OpmlError as exc:
        raise UserError(f"{a.file}: {exc}") from None
    msg = f"imported {added} feed{'s' if added != 1 else ''}"
    if known:
        msg += f", {known} already subscribed"
    if skipped:
        msg += f", {skipped} skipped (not http/https)"
    _out(msg + ". Run `veille refresh` to fetch them.")
    return 0


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
    import os

    from veille.refresh.runner import fork_pool

    # Before the store starts its flusher thread: forking is safe only now.
    pool = fork_pool(ctx.config["fetch.workers"] or (os.cpu_count() or 1))
    try:
        return _refresh(ctx, a, pool)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _refresh(ctx: Ctx, a: argparse.Namespace, pool: Any) -> int:
    from veille.refresh.runner import Progress, refresh_feeds

    store = ctx.store
    ids = [_feed_by_ref(store, u)["id"] for u in a.urls] if a.urls else None
    tty = sys.stderr.isatty() and not a.quiet

    def show(p: Progress) -> None:
        width = 24
        filled = int(width * p.done / max(p.total, 1))
        bar = "█" * filled + "·" * (width - filled)
        sys.stderr.write(
            f"\r{bar} {p.done}/{p.total} feeds · {p.new_items} new · {p.errors} errors\x1b[K"
        )
        sys.stderr.flush()

    summary = asyncio.run(
        refresh_feeds(
            store,
            ctx.config,
            feed_ids=ids,
            due_only=a.due,
            on_progress=show if tty else None,
            executor=pool,
        )
    )
    if tty and summary.feeds:
        sys.stderr.write("\r\x1b[K")
    if not a.quiet or summary.errors:
        _out(summary.line())
    if summary.feeds and summary.fetched == 0:
        return 1
    return 0


def _item_record(
    store: Store, d: dict[str, Any], feeds: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    f = feeds.get(d["feed"], {})
    return {
        "id": d["id"],
        "feed": f.get("url", ""),
        "feed_title": f.get("title", ""),
        "title": d.get("title", ""),
        "link": d.get("link", ""),
        "author": d.get("author", ""),
        "published": d.get("published"),
        "summary": d.get("summary", ""),
        "read": bool(d.get("read")),
        "starred": bool(d.get("starred")),
        "shared": bool(d.get("shared")),
        "tags": d.get("tags", []),
        "categories": d.get("cats", []),
        "first_seen": d.get("first_seen"),
    }


def cmd_items(ctx: Ctx, a: argparse.Namespace) -> int:
    store = ctx.store
    feed_ids = [_feed_by_ref(store, u)["id"] for u in a.feed] if a.feed else None
    if a.limit is not None and a.limit < 0:
        raise UserError("--limit must be positive")
    rows = store.items(
        unread=True if a.unread else None,
        starred=True if a.starred else None,
        feed_ids=feed_ids,
        tag=a.tag,
        search=a.search,
        limit=a.limit,
    )
    feeds = {f["id"]: f for f in store.feeds()}
    for d in rows:
        if a.json:
            _json(_item_record(store, d, feeds))
            continue
        mark = "●" if not d.get("read") else " "
        star = "★" if d.get("starred") else " "
        src = (feeds.get(d["feed"], {}).get("title") or "")[:24]
        when = age(d.get("published") or d["first_seen"])
        _out(f"{d['id']}  {mark}{star} {when:>4}  {src:<24}  {d.get('title') or d.get('link')}")
    return 0


def cmd_mark(ctx: Ctx, a: argparse.Namespace) -> int:
    store = ctx.store
    ids = []
    bad = []
    for ref in a.ids:
        try:
            ids.append(store.resolve_id(ref))
        except StoreError as exc:
            bad.append(str(exc))
    if bad:
        raise UserError("; ".join(bad) + " (nothing was changed)")
    fields: dict[str, Any] = {}
    if a.read:
        fields["read"] = True
    if a.unread:
        fields["read"] = False
    if a.star:
        fields["starred"] = True
    if a.unstar:
        fields["starred"] = False
    if not fields:
        raise UserError("say what to mark: --read, --unread, --star or --unstar")
    n = store.set_state(ids, **fields)
    _out(f"marked {n} item{'s' if n != 1 else ''}")
    return 0


# -------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="veille",
        description="A terminal feed reader for curators. With no command, opens the app.",
        epilog="Files live under platformdirs' folders; VEILLE_HOME=DIR puts them all under DIR.",
    )
    p.add_argument("--version", action="version", version=f"veille {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

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

    s = sub.add_parser("items", help="list items, newest first")
    s.add_argument("--unread", action="store_true")
    s.add_argument("--starred", action="store_true")
    s.add_argument("--feed", action="append", metavar="URL", help="only this feed (repeatable)")
    s.add_argument("--tag")
    s.add_argument("--search", metavar="TEXT")
    s.add_argument("--limit", type=int)
    s.add_argument("--json", action="store_true", help="JSON Lines")
    s.set_defaults(func=cmd_items)

    s = sub.add_parser("mark", help="change item state (for scripts)")
    s.add_argument("ids", nargs="+", metavar="ID", help="item ids (or unique prefixes)")
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--read", action="store_true")
    g.add_argument("--unread", action="store_true")
    g.add_argument("--star", action="store_true")
    g.add_argument("--unstar", action="store_true")
    s.set_defaults(func=cmd_mark)

    from veille.cli.share import register

    register(sub)
    return p


def _setup_logging(paths: Paths) -> None:
    try:
        paths.state.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(paths.log_file, encoding="utf-8")
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # never log URLs with tokens


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    paths = get_paths()
    ctx: Ctx | None = None
    try:
        paths.ensure()
        _setup_logging(paths)
        config = load_config(paths.config_file)
        ctx = Ctx(paths, config)
        if args.command is None:
            from veille.tui.app import run_app

            # Lazy: the newest items now, older months in a thread, so the first
            # screen paints before 100k items are read.
            ctx._store = Store(paths.store, lazy=LAZY_FIRST_ITEMS)
            return run_app(paths, config, ctx.store)
        return int(args.func(ctx, args) or 0)
    except ConfigError as exc:
        print(f"veille: {exc}", file=sys.stderr)
        return 2
    except (UserError, StoreError) as exc:
        print(f"veille: {exc}", file=sys.stderr)
        return getattr(exc, "code", 1)
    except KeyboardInterrupt:
        print("veille: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        log.error("unexpected error:\n%s", traceback.format_exc())
        print(
            f"veille: internal error: {type(exc).__name__}: {exc} (details in {paths.log_file})",
            file=sys.stderr,
        )
        return 70
    finally:
        if ctx is not None:
            try:
                ctx.close()
            except Exception:
                log.error("closing the store failed:\n%s", traceback.format_exc())


if __name__ == "__main__":  # `python -m veille.cli.main`: run the imported module's main, so
    from veille.cli.main import main as _main  # its exception classes are the ones raised

    sys.exit(_main())
