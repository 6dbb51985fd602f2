"""`veille share`, `shares`, `send` and `digest`: resharing without the TUI.

Registered into the main parser by ``register(sub)`` (the accounts are in
cli/account.py).  What is shown of a delivery is what the outbox stored: its
reason with secrets already taken out, and veille's own remark apart from it.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from veille.accounts import config as acc
from veille.cli.account import confirm, guarded, interactive
from veille.cli.context import Ctx, UserError
from veille.cli.output import json_lines, out
from veille.domain.share import Delivery, Share
from veille.util.dates import age, parse_iso, until


def _accounts(ctx: Ctx) -> dict[str, acc.Account]:
    return acc.load_accounts(ctx.config, ctx.paths.data)


def _secrets(ctx: Ctx) -> Any:
    return acc.open_secrets(ctx.paths.config)


def _warn(message: str) -> None:
    print(f"veille: warning: {message}", file=sys.stderr)


# -------------------------------------------------------------------- share
def _counter(share: Share, d: Delivery, account: acc.Account | None) -> tuple[str, bool]:
    from veille.share.outbox import length_check

    if account is None:
        return "", True
    verdict = length_check(share, d, account)
    counter = f"{verdict.count}/{verdict.limit}" if verdict.limit else f"{verdict.count} chars"
    return (counter if verdict.ok else f"{counter}  too long: {verdict.reason}"), verdict.ok


def _next_try(when: str | None) -> str:
    t = parse_iso(when)
    return until(t) if t is not None else "now"


def status_line(d: Delivery, *, busy: bool = True) -> str:
    """One line for a delivery; ``busy``: whether an outbox run is going on right now."""
    if d.status == "sent":
        line = f"sent {d.url or '(no URL given)'}"
    elif d.status == "failed":
        line = f"failed: {d.error}" if d.error else "failed"
    elif d.status == "queued" and d.error:
        line = f"queued: {d.error} (next try {_next_try(d.next_try)})"
    elif d.status == "sending" and not busy:
        line = "sending was cut off (veille stopped mid-way): `veille send` will finish it"
    else:
        line = d.status
    if d.notice:
        line += f" — {d.notice}" if d.status != "failed" or d.error else f": {d.notice}"
    return line


def _print_status(share: Share) -> bool:
    """Per-destination lines; True when one has failed."""
    failed = False
    width = max((len(n) for n in share.deliveries), default=0)
    for name, d in share.deliveries.items():
        out(f"  {name:<{width}}  {status_line(d)}")
        failed = failed or d.status == "failed"
    return failed


def _comment(a: argparse.Namespace) -> str | None:
    if a.comment == "-":
        return sys.stdin.read().rstrip("\n")
    comment: str | None = a.comment
    return comment


def _send(ctx: Ctx, share_ids: list[str] | None) -> list[tuple[str, str, Delivery]]:
    import asyncio

    from veille.share.outbox import send_pending

    return asyncio.run(
        send_pending(
            ctx.store, ctx.config, _secrets(ctx), share_ids=share_ids, accounts=_accounts(ctx)
        )
    )


def _check_earlier(ctx: Ctx, a: argparse.Namespace) -> bool:
    """Warn when the item was shared before; True to go on (``--again``, or yes on a tty)."""
    from veille.share.plan import describe_earlier, earlier_shares

    try:
        iid = ctx.store.resolve_id(a.id)
    except Exception:  # unknown or ambiguous: build_share says so in one line
        return True
    earlier = earlier_shares(ctx.store, iid)
    if not earlier:
        return True
    more = f" (and {len(earlier) - 1} more)" if len(earlier) > 1 else ""
    said = f"you shared this item already: {describe_earlier(earlier[0])}{more}"
    if a.again or a.dry_run:
        _warn(said)
        return True
    if interactive() and a.comment != "-":
        _warn(said)
        return confirm("Share it again? [y/N] ")
    raise UserError(f"{said}; not shared again: add --again to share it anyway")


@guarded
def cmd_share(ctx: Ctx, a: argparse.Namespace) -> int:
    from veille.share.outbox import build_share, create_share, retry
    from veille.share.plan import plan_destinations

    comment = _comment(a)
    accounts = _accounts(ctx)
    store = ctx.store
    if a.retry:
        if a.dry_run:
            raise UserError("--retry and --dry-run do not go together")
        share = retry(store, ctx.config, a.id, destinations=a.to or None, comment=comment)
        out(f"re-queued share {share.id}: {share.title or share.link}")
    else:
        if not comment or not comment.strip():
            raise UserError("say something: --comment TEXT (or --comment - to read stdin)")
        if not _check_earlier(ctx, a):
            out("not shared")
            return 1
        kwargs: dict[str, Any] = {
            "to": a.to or None,
            "hashtags": [] if a.no_tags else (a.tag or None),
            "content_warning": a.cw or "",
            "language": a.lang,
            "accounts": accounts,
        }
        plan = plan_destinations(ctx.config, accounts, a.to or None)
        if a.dry_run:
            share = build_share(store, ctx.config, a.id, comment, **kwargs)
            out(plan.describe())
            ok = True
            for name, d in share.deliveries.items():
                counter, fits = _counter(share, d, accounts.get(name))
                ok = ok and fits
                out(f"── {name}  {counter}")
                if d.kind == "mastodon" and share.content_warning:
                    out(f"CW: {share.content_warning}")
                out(d.text)
                out("")
            return 0 if ok else 1
        share = create_share(store, ctx.config, a.id, comment, **kwargs)
        out(f"shared {share.title or share.link} as {share.id}")
        if plan.unused and plan.why != "chosen":
            out(plan.describe())
    if not a.no_send:
        _send(ctx, [share.id])
    share = store.get_share(share.id) or share
    return 1 if _print_status(share) else 0


# ------------------------------------------------------------------- shares
def share_record(share: Share) -> dict[str, Any]:
    return {
        "id": share.id,
        "item_id": share.item_id,
        "created": share.created,
        "title": share.title,
        "link": share.link,
        "source": share.source,
        "source_url": share.source_url,
        "comment": share.comment,
        "hashtags": share.hashtags,
        "answer": share.answer,  # "reply" | "quote" of `post`, or "" for a plain share
        "post": share.post.to_dict() if share.post is not None else None,
        "deliveries": [
            {
                "destination": d.destination,
                "kind": d.kind,
                "status": d.status,
                "url": d.url,
                "error": d.error,
                "notice": d.notice,
                "attempts": d.attempts,
                "next_try": d.next_try,
                "sent_at": d.sent_at,
                "text": d.text,
            }
            for d in share.deliveries.values()
        ],
        "responses": [
            {
                "kind": r.kind,
                "author": r.author,
                "handle": r.handle,
                "text": r.text,
                "url": r.url,
                "at": r.at,
            }
            for r in share.responses
        ],
    }


_RESPONSE_WORDS = {"reply": "replies", "like": "likes", "repost": "reposts", "quote": "quotes"}


def responses_line(share: Share) -> str:
    """'2 replies, 1 like' for a share's responses; "" when there are none."""
    counts: dict[str, int] = {}
    for r in share.responses:
        counts[r.kind] = counts.get(r.kind, 0) + 1
    parts = []
    for kind, plural in _RESPONSE_WORDS.items():
        n = counts.pop(kind, 0)
        if n:
            parts.append(f"{n} {kind if n == 1 else plural}")
    parts.extend(f"{n} {kind}" for kind, n in sorted(counts.items()))
    return ", ".join(parts)


@guarded
def cmd_shares(ctx: Ctx, a: argparse.Namespace) -> int:
    from veille.share.outbox import outbox_busy

    if a.send:
        return cmd_send(ctx, a)
    shares = ctx.store.shares()
    if a.json:
        json_lines(share_record(share) for share in shares)
        return 0
    if not shares:
        out("No shares yet. Share an item with `veille share ID --comment TEXT`.")
        return 0
    busy = outbox_busy(ctx.store)
    for share in shares:
        out(f"{share.id}  {age(share.created):>4}  {share.title or share.link}")
        if share.link:
            out(f"      {share.link}")
        first = (share.comment.strip().splitlines() or [""])[0]
        out(f"      “{first}”")
        for name, d in share.deliveries.items():
            out(f"      {name}: {status_line(d, busy=busy)}")
        if share.responses:
            out(f"      responses: {responses_line(share)}")
    return 0


@guarded
def cmd_send(ctx: Ctx, a: argparse.Namespace) -> int:
    done = _send(ctx, None)
    if not done:
        out("nothing to send")
        return 0
    failed = False
    for share_id, name, d in done:
        out(f"{share_id}  {name}  {status_line(d)}")
        failed = failed or d.status == "failed"
    return 1 if failed else 0


# ------------------------------------------------------------------- digest
@guarded
def cmd_digest(ctx: Ctx, a: argparse.Namespace) -> int:
    from veille.share.digest import render_digest
    from veille.util.atomicfile import write_atomic
    from veille.util.dates import parse_since

    until = datetime.now(UTC)
    try:
        since = parse_since(a.since, now=until)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    shares = ctx.store.shares()
    text = render_digest(shares, since=since, until=until, fmt=a.format)
    if a.out and a.out != "-":
        path = Path(a.out)
        try:
            write_atomic(path, text.encode("utf-8"))
        except OSError as exc:
            raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
        print(f"wrote {path}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


# ------------------------------------------------------------------- parser
def register(sub: Any) -> None:
    """Add the sharing commands to the main parser's subparsers."""
    s = sub.add_parser("share", help="reshare an item with your comment")
    s.add_argument("id", metavar="ID", help="item id (or a share id with --retry)")
    s.add_argument("--comment", "-m", help="your comment; - reads it from stdin")
    s.add_argument("--to", action="append", metavar="NAME", help="destination (repeatable)")
    s.add_argument("--tag", action="append", metavar="HASHTAG", help="hashtag (repeatable)")
    s.add_argument("--no-tags", action="store_true", help="no hashtags (none suggested)")
    s.add_argument("--cw", metavar="TEXT", help="content warning (Mastodon)")
    s.add_argument("--lang", metavar="xx", help="language of your comment (ISO 639-1)")
    s.add_argument(
        "--dry-run",
        action="store_true",
        help="say where it would go and print each text; save and send nothing",
    )
    s.add_argument("--retry", action="store_true", help="re-queue a failed share (ID is its id)")
    s.add_argument("--again", action="store_true", help="share an item shared before")
    s.add_argument("--no-send", action="store_true", help="save and queue only")
    s.set_defaults(func=cmd_share)

    s = sub.add_parser("shares", help="your shares, newest first, with delivery status")
    s.add_argument("--json", action="store_true", help="JSON Lines")
    s.add_argument("--send", action="store_true", help="send what is pending first")
    s.set_defaults(func=cmd_shares)

    s = sub.add_parser("send", help="send pending shares (for cron, or after a crash)")
    s.set_defaults(func=cmd_send)

    s = sub.add_parser("digest", help='a "further reading" page of your shares')
    s.add_argument("--since", default="7d", help="age (30m, 24h, 7d, 2w) or date")
    s.add_argument(
        "--format", choices=("md", "html"), default="md", help="Markdown (default) or HTML"
    )
    s.add_argument("--out", metavar="FILE", help="write here (default: stdout)")
    s.set_defaults(func=cmd_digest)
