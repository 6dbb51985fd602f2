"""Social sources: 50 sources x 200 posts, generated and served on loopback; time per poll.

    python benchmarks/social_bench.py [--sources 50] [--posts 200] [--feeds 200]
                                      [--store-items 100000] [--skip-merge] [--skip-store]

A server process (this file with ``--serve``) plays a Mastodon instance (one tag
timeline per source, paged with min_id and Link headers as Mastodon does) and a
PLC directory + PDS holding one repository per source (listRecords paged like
the reference PDS).  The client polls each kind of source in this process:

* a backlog poll: every source has ``--posts`` new posts since its cursor;
* an idle poll: nothing new (Mastodon: one empty page; Bluesky: one
  getLatestCommit per repository);
* ``bluesky:following`` over the same repositories: one source, N accounts.

Polls of one row run concurrently over one shared HTTP client, as a refresh would;
"ms/poll" is the row's wall time divided by its polls, "cpu" the client process's
CPU time (the server runs in another process).  Compare rows within one run.

Then the merge, through ``refresh_feeds`` into a real store (second table): the
server also serves ``--feeds`` RSS feeds of 50 items and ``--sources`` Mastodon
tags whose posts link to those feeds' articles (tracking parameters added; two
posts from two sources per article).  The social sources are refreshed into the
store holding the feeds' items (each post becomes a sighting of an article) and
into an empty one (each post a new item).

Last, the merge's cost in the store itself (third table): ``upsert_entries`` of
a batch of 200 posts (half about known articles, half new) from a social source,
into a store of 1,000 items and one of ``--store-items`` (built as
store_bench.py builds it).  The batch's cost should not grow with the store.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlencode, urlsplit

HERE = Path(__file__).resolve().parent
TID_CHARS = "234567abcdefghijklmnopqrstuvwxyz"
BASE_ID = 110_000_000_000_000_000


def tid(number: int) -> str:
    chars = []
    for _ in range(13):
        chars.append(TID_CHARS[number & 31])
        number >>= 5
    return "".join(reversed(chars))


def did_of(n: int) -> str:
    return f"did:plc:bench{n:019d}"


# --- the server -------------------------------------------------------------------------------


def article_of(source: int, n: int, posts: int, feeds: int, items: int = 50) -> str:
    """The RSS article post ``n`` of merge source ``source`` links to: with 50 sources
    x 200 posts and 200 feeds x 50 items, two posts from two sources per article, on
    half of the articles."""
    k = (source * posts + n) % max(1, feeds * items // 2)
    return f"https://site{k % feeds}.example/posts/{k // feeds}?utm_source=mastodon"


def status(source: int, n: int, base: str, url: str = "") -> dict[str, Any]:
    """A status shaped like Mastodon's (the fields veille reads, and the usual rest)."""
    sid = BASE_ID + source * 100_000 + n
    url = url or f"https://news{source}.example/articles/{n}?utm_source=mastodon"
    return {
        "id": str(sid),
        "created_at": f"2026-11-{1 + n % 28:02d}T10:{n % 60:02d}:00.000Z",
        "in_reply_to_id": None,
        "sensitive": False,
        "spoiler_text": "",
        "visibility": "public",
        "language": "en",
        "uri": f"{base}/users/u{source}/statuses/{sid}",
        "url": f"{base}/@u{source}/{sid}",
        "replies_count": 0,
        "reblogs_count": 0,
        "favourites_count": 0,
        "content": (
            f"<p>Worth reading, number {n}: a long comment about why it matters "
            f'<a href="{url}" rel="nofollow noopener" target="_blank">'
            f'<span class="invisible">https://</span><span class="ellipsis">news{source}'
            f'.example/articles/</span><span class="invisible">{n}</span></a> '
            f'<a href="{base}/tags/bench" class="mention hashtag" rel="tag">#<span>bench</span>'
            "</a></p>"
        ),
        "reblog": None,
        "account": {
            "id": str(source),
            "username": f"u{source}",
            "acct": f"u{source}",
            "display_name": f"User {source}",
            "url": f"{base}/@u{source}",
        },
        "media_attachments": [],
        "mentions": [],
        "tags": [{"name": "bench", "url": f"{base}/tags/bench"}],
        "emojis": [],
        "card": None,
        "poll": None,
    }


def post(source: int, n: int) -> dict[str, Any]:
    url = f"https://news{source}.example/b/{n}"
    text = f"Post {n}: worth a read {url}"
    start = len(text.encode()) - len(url.encode())
    did = did_of(source)
    return {
        "uri": f"at://{did}/app.bsky.feed.post/{tid(n + 1)}",
        "cid": f"bafybench{source}x{n}",
        "value": {
            "$type": "app.bsky.feed.post",
            "text": text,
            "createdAt": f"2026-11-{1 + n % 28:02d}T10:{n % 60:02d}:00.000Z",
            "facets": [
                {
                    "index": {"byteStart": start, "byteEnd": start + len(url.encode())},
                    "features": [{"$type": "app.bsky.richtext.facet#link", "uri": url}],
                }
            ],
        },
    }


class Handler(BaseHTTPRequestHandler):
    server: Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _json(self, body: Any, headers: dict[str, str] | None = None, status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        srv = self.server
        parts = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        path = parts.path
        base = srv.base
        if path.startswith("/feed/"):
            body = srv.feeds.get(path)
            if body is None:
                self._json({"error": "NotFound"}, status=404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif path.startswith("/api/v1/timelines/tag/"):
            statuses = srv.timelines[path.rsplit("/", 1)[1]]  # newest first
            limit = min(int(q.get("limit", 20)), 40)
            if "min_id" in q:
                newer = [s for s in statuses if int(s["id"]) > int(q["min_id"])]
                page = newer[-limit:]
            else:
                page = statuses[:limit]
            headers = {
                "X-RateLimit-Limit": "300",
                "X-RateLimit-Remaining": "299",
                "X-RateLimit-Reset": "2026-12-31T00:00:00.000000Z",
            }
            if page:
                keep = [(k, v) for k, v in q.items() if k not in ("min_id", "max_id", "since_id")]

                def link(name: str, value: str) -> str:
                    return f"{base}{path}?{urlencode(sorted([*keep, (name, value)]))}"

                headers["Link"] = (
                    f'<{link("max_id", page[-1]["id"])}>; rel="next", '
                    f'<{link("min_id", page[0]["id"])}>; rel="prev"'
                )
            self._json(page, headers)
        elif path.startswith("/did:plc:bench"):
            did = path.lstrip("/")
            self._json(
                {
                    "id": did,
                    "alsoKnownAs": [f"at://u{int(did[14:])}.bench.test"],
                    "service": [
                        {
                            "id": "#atproto_pds",
                            "type": "AtprotoPersonalDataServer",
                            "serviceEndpoint": base,
                        }
                    ],
                }
            )
        elif path == "/xrpc/com.atproto.sync.getLatestCommit":
            self._json({"cid": "bafyrev", "rev": tid(srv.rev)})
        elif path == "/xrpc/com.atproto.repo.getRecord":
            if q.get("collection") == "app.bsky.actor.profile":
                n = int(q["repo"][14:])
                self._json(
                    {
                        "uri": f"at://{q['repo']}/app.bsky.actor.profile/self",
                        "value": {"$type": "app.bsky.actor.profile", "displayName": f"User {n}"},
                    }
                )
            else:
                self._json({"error": "RecordNotFound", "message": "no"}, status=400)
        elif path == "/xrpc/com.atproto.repo.listRecords":
            repo, collection = q.get("repo", ""), q.get("collection", "")
            if collection == "app.bsky.graph.follow":
                records = srv.follows if repo == did_of(9999) else []
            elif collection == "app.bsky.feed.post" and repo.startswith("did:plc:bench"):
                records = srv.posts.get(int(repo[14:]), [])
            else:
                records = []
            reverse = q.get("reverse") == "true"
            ordered = records if reverse else list(reversed(records))  # stored oldest first
            cursor = q.get("cursor")
            if cursor and reverse:  # after the cursor, oldest first
                ordered = [r for r in ordered if r["uri"].rsplit("/", 1)[1] > cursor]
            elif cursor:  # before the cursor, newest first
                ordered = [r for r in ordered if r["uri"].rsplit("/", 1)[1] < cursor]
            page = ordered[: int(q.get("limit", 50))]
            body: dict[str, Any] = {"records": page}
            if page:
                body["cursor"] = page[-1]["uri"].rsplit("/", 1)[1]
            self._json(body)
        elif path == "/xrpc/com.atproto.identity.resolveHandle":
            self._json({"did": did_of(9999)})
        else:
            self._json({"error": "NotFound"}, status=404)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    base: str
    timelines: dict[str, list[dict[str, Any]]]
    feeds: dict[str, bytes]
    posts: dict[int, list[dict[str, Any]]]
    follows: list[dict[str, Any]]
    rev: int = 1


def serve(sources: int, posts: int, feeds: int) -> None:
    sys.path.insert(0, str(HERE))
    from feedserver import make_feed

    server = Server(("127.0.0.1", 0), Handler)
    server.base = f"http://127.0.0.1:{server.server_address[1]}"
    server.timelines = {}
    for s in range(sources):
        server.timelines[f"t{s}"] = [status(s, n, server.base) for n in reversed(range(posts))]
        if feeds:
            server.timelines[f"m{s}"] = [
                status(s, n, server.base, article_of(s, n, posts, feeds))
                for n in reversed(range(posts))
            ]
    server.feeds = {f"/feed/{n}.xml": make_feed(n, 50) for n in range(feeds)}
    server.posts = {s: [post(s, n) for n in range(posts)] for s in range(sources)}
    server.follows = [
        {
            "uri": f"at://{did_of(9999)}/app.bsky.graph.follow/{tid(s + 1)}",
            "value": {"$type": "app.bsky.graph.follow", "subject": did_of(s)},
        }
        for s in range(sources)
    ]
    print(server.base, flush=True)
    import threading

    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()  # until the benchmark closes our stdin


# --- the client ----------------------------------------------------------------------------


async def run(base: str, sources: int, posts: int) -> list[tuple[str, int, int, float, float]]:
    """Rows of (what, polls, posts, wall seconds, client CPU seconds)."""
    import httpx

    from veille.accounts.config import Account
    from veille.domain.records import Feed
    from veille.sources.base import PollContext, PollResult
    from veille.sources.bluesky import BlueskySource
    from veille.sources.mastodon import MastodonSource

    class Secrets:
        def get(self, name: str) -> str | None:
            return "token" if name.endswith(":token") else None

    accounts = {
        "m": Account(name="m", type="mastodon", instance=base),
        "b": Account(name="b", type="bluesky", handle="me.bench.test", service=base),
    }
    rows: list[tuple[str, int, int, float, float]] = []
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        ctx = PollContext(
            fetcher=cast(Any, None),
            parse=cast(Any, None),
            config=None,
            accounts=accounts,
            secrets=Secrets(),
            http=http,
        )

        async def timed(name: str, source: Any, feeds: list[Feed]) -> list[Feed]:
            """Poll every feed concurrently, again while a backlog is left: one row."""
            per_poll: list[float] = []

            async def one(f: Feed) -> tuple[PollResult, Feed]:
                total = 0
                while True:
                    t = time.perf_counter()
                    result = await source.poll(f, ctx)
                    per_poll.append(time.perf_counter() - t)
                    assert result.status == "ok", result.error
                    total += len(result.entries)
                    if result.cursor is not None:
                        f = replace(f, cursor=dict(result.cursor))
                    if not result.more:
                        result.entries = [None] * total  # type: ignore[list-item]
                        return result, f

            t0, c0 = time.perf_counter(), time.process_time()
            done = await asyncio.gather(*(one(f) for f in feeds))
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            entries = sum(len(r.entries) for r, _ in done)
            rows.append((name, len(per_poll), entries, wall, cpu))
            return [f for _, f in done]

        mastodon = MastodonSource()
        start = str(BASE_ID - 1)
        m_feeds = [
            Feed(id=f"m{s}", url=f"mastodon:tag/t{s}", kind="mastodon", account="m",
                 cursor={"min_id": start})
            for s in range(sources)
        ]  # fmt: skip
        m_feeds = await timed("mastodon:tag, backlog", mastodon, m_feeds)
        await timed("mastodon:tag, idle", mastodon, m_feeds)

        bluesky = BlueskySource(per_account=posts)

        def primed(did: str) -> dict[str, Any]:
            # Known account, read from its first record on: the whole backlog is new.
            return {"pds": base, "handle": "", "name": "", "checked": now_iso(), "post": "",
                    "repost": "", "rev": ""}  # fmt: skip

        b_feeds = [
            Feed(id=f"b{s}", url=f"bluesky:@{did_of(s)}", kind="bluesky", account="",
                 cursor={"actor": did_of(s), "did": did_of(s),
                         "dids": {did_of(s): primed(did_of(s))}})
            for s in range(sources)
        ]  # fmt: skip
        b_feeds = await timed("bluesky:@did, backlog", bluesky, b_feeds)
        await timed("bluesky:@did, idle", bluesky, b_feeds)

        following = Feed(
            id="f", url="bluesky:following", kind="bluesky", account="b",
            cursor={"dids": {did_of(s): primed(did_of(s)) for s in range(sources)}},
        )  # fmt: skip
        [following] = await timed(
            f"bluesky:following ({sources} accounts), backlog", bluesky, [following]
        )
        await timed(f"bluesky:following ({sources} accounts), idle", bluesky, [following])
    return rows


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# --- the merge, through a refresh into a store ---------------------------------------------


async def merge_rows(
    base: str, sources: int, feeds: int
) -> list[tuple[str, int, int, int, float, float]]:
    """Rows of (what, polls, new items, merged posts, wall seconds, client CPU seconds)."""
    import tempfile

    from veille.accounts.config import Account
    from veille.config import Config
    from veille.refresh.runner import refresh_feeds
    from veille.store.store import Store

    class Secrets:
        def get(self, name: str) -> str | None:
            return "token" if name.endswith(":token") else None

    accounts = {"m": Account(name="m", type="mastodon", instance=base)}
    # One loopback host serves every feed: let it take as many at once as the fetcher does.
    config = Config({"fetch.per_host": 16})
    rows: list[tuple[str, int, int, int, float, float]] = []
    tmp = Path(tempfile.mkdtemp(prefix="veille-social-bench-"))

    async def refresh(store: Store, what: str, ids: list[str] | None = None) -> None:
        t0, c0 = time.perf_counter(), time.process_time()
        summary = await refresh_feeds(
            store, config, feed_ids=ids, accounts=accounts, secrets=Secrets()
        )
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        assert summary.errors == 0, [o.message for o in summary.outcomes if o.status != "ok"]
        merged = sum(o.merged for o in summary.outcomes)
        rows.append((what, summary.feeds, summary.new_items, merged, wall, cpu))

    def add_social(store: Store) -> list[str]:
        ids = []
        for s in range(sources):
            f, _ = store.add_feed(f"mastodon:tag/m{s}", kind="mastodon", account="m")
            # Polled before: the whole timeline is new since the cursor.
            store.update_feed(f.id, cursor={"min_id": str(BASE_ID - 1)})
            ids.append(f.id)
        return ids

    with_feeds = Store(tmp / "with-feeds", autoflush=False)
    with_feeds.add_feeds((f"{base}/feed/{n}.xml", "", [], "") for n in range(feeds))
    await refresh(with_feeds, f"RSS: {feeds} feeds x 50 items, cold (for scale)")
    ids = add_social(with_feeds)
    await refresh(with_feeds, f"{sources} mastodon:tag into those {feeds * 50} items", ids)
    items = len(with_feeds)
    shared = sum(1 for i in with_feeds.items() if i.sharers)
    with_feeds.flush()
    with_feeds.close()
    empty = Store(tmp / "empty", autoflush=False)
    ids = add_social(empty)
    await refresh(empty, f"{sources} mastodon:tag into an empty store", ids)
    empty.flush()
    empty.close()
    rows.append((f"  (the merged store: {items} items, {shared} with sharers)", 0, 0, 0, 0, 0))
    return rows


def store_rows(big: int, batches: int = 11) -> list[tuple[int, float, float, int, int]]:
    """Rows of (store items, first batch ms, median ms of the next batches of 200 posts,
    merged, new).  The first upsert after opening builds the store's link index."""
    import statistics
    import tempfile

    sys.path.insert(0, str(HERE))
    from store_bench import build

    from veille.domain.entries import ParsedEntry
    from veille.store.store import Store

    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="veille-social-store-"))
    for n in (1000, big):
        root = tmp / f"s{n}"
        build(root, n)
        n_feeds = max(1, n // 200)
        store = Store(root, autoflush=False)
        size = len(store)
        feed, _ = store.add_feed("mastodon:tag/bench", kind="mastodon", account="m")
        times, merged, new = [], 0, 0
        for b in range(batches):
            batch = []
            for i in range(200):
                if i % 2 == 0:  # about an article the store holds
                    link = f"https://site{(b * 200 + i) % n_feeds}.example/posts/{i}?utm_source=x"
                else:
                    link = f"https://elsewhere.example/{b}/{i}"
                batch.append(
                    ParsedEntry(
                        key=f"https://social.example/users/u{i}/statuses/{b}{i}",
                        link=link,
                        kind="post",
                        handle=f"@u{i}@social.example",
                        author=f"User {i}",
                        post_url=f"https://social.example/@u{i}/{b}{i}",
                        post_text=f"Worth reading, post {b}.{i}",
                        summary=f"Worth reading, post {b}.{i}",
                        published=now_iso(),
                    )
                )
            t = time.perf_counter()
            res = store.upsert_entries(feed.id, batch)
            times.append(time.perf_counter() - t)
            merged += res.merged
            new += res.new
        rows.append((size, times[0] * 1000, statistics.median(times[1:]) * 1000, merged, new))
        del store  # not flushed: only the in-memory merge is measured
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sources", type=int, default=50)
    ap.add_argument("--posts", type=int, default=200)
    ap.add_argument("--feeds", type=int, default=200, help="RSS feeds the posts link into")
    ap.add_argument("--store-items", type=int, default=100_000)
    ap.add_argument("--skip-merge", action="store_true", help="no refresh into a store")
    ap.add_argument("--skip-store", action="store_true", help="no upsert_entries at 1k/100k")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    feeds = 0 if args.skip_merge else args.feeds
    if args.serve:
        serve(args.sources, args.posts, feeds)
        return 0
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--sources", str(args.sources),
         "--posts", str(args.posts), "--feeds", str(feeds)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        base = server.stdout.readline().strip()
        import os

        os.environ["VEILLE_PLC_URL"] = base
        rows = asyncio.run(run(base, args.sources, args.posts))
        merged = asyncio.run(merge_rows(base, args.sources, feeds)) if feeds else []
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(10)
    print(f"\n{args.sources} sources x {args.posts} posts, served on 127.0.0.1 (another process)\n")
    print(
        f"{'poll':<44} {'polls':>6} {'posts':>6} {'wall s':>7} {'cpu s':>7} "
        f"{'ms/poll':>8} {'cpu ms/post':>11}"
    )
    for name, count, entries, wall, cpu in rows:
        per_post = f"{1000 * cpu / entries:11.3f}" if entries else f"{'-':>11}"
        print(
            f"{name:<44} {count:>6} {entries:>6} {wall:7.3f} {cpu:7.3f} "
            f"{1000 * wall / count:8.1f} {per_post}"
        )
    print("\npolls: a source whose backlog ends exactly at the cap is polled once more.")
    print(
        "idle / backlog wall time: "
        + ", ".join(
            f"{rows[i][0].split(',')[0]} {rows[i + 1][3] / rows[i][3]:.2f}" for i in (0, 2, 4)
        )
    )
    if merged:
        print(f"\nrefresh_feeds into a store (posts link to the {feeds} feeds' articles)\n")
        print(
            f"{'refresh':<44} {'polls':>6} {'new':>6} {'merged':>6} {'wall s':>7} "
            f"{'cpu s':>7} {'ms/poll':>8}"
        )
        for name, polls, new, n_merged, wall, cpu in merged:
            if not polls:
                print(name)
                continue
            print(
                f"{name:<44} {polls:>6} {new:>6} {n_merged:>6} {wall:7.3f} {cpu:7.3f} "
                f"{1000 * wall / max(polls, 1):8.1f}"
            )
        print(f"merging / not merging, wall: {merged[1][4] / merged[2][4]:.2f}")
    if not args.skip_store:
        table = store_rows(args.store_items)
        print("\nupsert_entries of 200 posts from a social source (half about known articles)\n")
        print(
            f"{'store items':>12} {'1st batch ms':>13} {'then, median ms':>16} "
            f"{'merged':>7} {'new':>6}"
        )
        for n, first, median, n_merged, new in table:
            print(f"{n:>12} {first:13.2f} {median:16.2f} {n_merged:>7} {new:>6}")
        print(
            f"{table[-1][0]} / {table[0][0]} items: 1st batch {table[-1][1] / table[0][1]:.1f}x, "
            f"then {table[-1][2] / table[0][2]:.2f}x"
        )
        print("(the 1st upsert after opening a store builds its link index: once per process)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
