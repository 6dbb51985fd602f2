"""`veille share`, `shares`, `send`, `digest` and `account`: resharing without the TUI.

Registered into the main parser by ``register(sub)``.  Secrets are read from a
file or a prompt that does not echo, and are never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import getpass
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from veille.accounts import config as acc
from veille.cli.context import Ctx, UserError
from veille.cli.output import json_line, out
from veille.clients.errors import RemoteError
from veille.domain.share import Delivery, Share
from veille.share.outbox import OutboxError
from veille.util.dates import age, parse_iso


def _guarded(func: Callable[[Ctx, argparse.Namespace], int]) -> Callable[..., int]:
    """Our errors become one line on stderr (no traceback), whichever way veille runs."""

    @functools.wraps(func)
    def run(ctx: Ctx, a: argparse.Namespace) -> int:
        try:
            return func(ctx, a)
        except acc.AccountError as exc:
            raise UserError(str(exc), 2) from None
        except OutboxError as exc:
            raise UserError(str(exc)) from None

    return run


def _accounts(ctx: Ctx) -> dict[str, acc.Account]:
    return acc.load_accounts(ctx.config, ctx.paths.data)


def _secrets(ctx: Ctx) -> Any:
    return acc.open_secrets(ctx.paths.config)


def _read_line(prompt: str) -> str:
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline().strip()
    if not sys.stdin.isatty():
        sys.stderr.write("\n")  # piped: end the prompt's line ourselves
    return line


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
    if t is None:
        return "now"
    secs = int((t - datetime.now(UTC)).total_seconds())
    if secs <= 0:
        return "now"
    if secs < 120:
        return f"in {secs} s"
    if secs < 7200:
        return f"in {secs // 60} min"
    return f"in {secs // 3600} h"


def _status_line(d: Delivery) -> str:
    if d.status == "sent":
        return f"sent {d.url or '(no URL given)'}"
    if d.status == "failed":
        return f"failed: {d.error or 'unknown error'}"
    if d.status == "queued" and d.error:
        return f"queued: {d.error} (next try {_next_try(d.next_try)})"
    return d.status


def _print_status(share: Share) -> bool:
    """Per-destination lines; True when one has failed."""
    failed = False
    width = max((len(n) for n in share.deliveries), default=0)
    for name, d in share.deliveries.items():
        out(f"  {name:<{width}}  {_status_line(d)}")
        failed = failed or d.status == "failed"
    return failed


def _comment(a: argparse.Namespace) -> str | None:
    if a.comment == "-":
        return sys.stdin.read().rstrip("\n")
    return a.comment


def _send(ctx: Ctx, share_ids: list[str] | None) -> list[tuple[str, str, Delivery]]:
    from veille.share.outbox import send_pending

    return asyncio.run(
        send_pending(
            ctx.store, ctx.config, _secrets(ctx), share_ids=share_ids, accounts=_accounts(ctx)
        )
    )


@_guarded
def cmd_share(ctx: Ctx, a: argparse.Namespace) -> int:
    from veille.share.outbox import build_share, create_share, retry

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
        kwargs: dict[str, Any] = {
            "to": a.to or None,
            "hashtags": [] if a.no_tags else (a.tag or None),
            "content_warning": a.cw or "",
            "language": a.lang,
            "accounts": accounts,
        }
        if a.dry_run:
            share = build_share(store, ctx.config, a.id, comment, **kwargs)
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
        "deliveries": [
            {
                "destination": d.destination,
                "kind": d.kind,
                "status": d.status,
                "url": d.url,
                "error": d.error,
                "attempts": d.attempts,
                "next_try": d.next_try,
                "sent_at": d.sent_at,
                "text": d.text,
            }
            for d in share.deliveries.values()
        ],
    }


@_guarded
def cmd_shares(ctx: Ctx, a: argparse.Namespace) -> int:
    if a.send:
        return cmd_send(ctx, a)
    shares = ctx.store.shares()
    if a.json:
        for share in shares:
            json_line(share_record(share))
        return 0
    if not shares:
        out("No shares yet. Share an item with `veille share ID --comment TEXT`.")
        return 0
    for share in shares:
        out(f"{share.id}  {age(share.created):>4}  {share.title or share.link}")
        if share.link:
            out(f"      {share.link}")
        first = (share.comment.strip().splitlines() or [""])[0]
        out(f"      “{first}”")
        for name, d in share.deliveries.items():
            out(f"      {name}: {_status_line(d)}")
    return 0


@_guarded
def cmd_send(ctx: Ctx, a: argparse.Namespace) -> int:
    done = _send(ctx, None)
    if not done:
        out("nothing to send")
        return 0
    failed = False
    for share_id, name, d in done:
        out(f"{share_id}  {name}  {_status_line(d)}")
        failed = failed or d.status == "failed"
    return 1 if failed else 0


# ------------------------------------------------------------------- digest
@_guarded
def cmd_digest(ctx: Ctx, a: argparse.Namespace) -> int:
    from veille.share.atomfeed import write_atomic
    from veille.share.digest import parse_since, render_digest

    until = datetime.now(UTC)
    try:
        since = parse_since(a.since, now=until)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    shares = ctx.store.shares()
    text = render_digest(shares, since=since, until=until, fmt=a.format)
    if a.out and a.out != "-":
        out = Path(a.out)
        try:
            write_atomic(out, text.encode("utf-8"))
        except OSError as exc:
            raise UserError(f"cannot write {out}: {exc.strerror or exc}") from None
        print(f"wrote {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


# ----------------------------------------------------------------- accounts
def _new_name(ctx: Ctx, name: str) -> str:
    acc.check_name(name)
    if name in ctx.config["accounts"]:
        raise UserError(f"an account named '{name}' exists already (give another with --name)")
    return name


def _remote(what: str, exc: RemoteError) -> UserError:
    return UserError(f"{what}: {exc} (nothing was saved)")


def _save(ctx: Ctx, name: str, fields: dict[str, Any], secrets: dict[str, str]) -> None:
    """Secrets first; if the config cannot take the table, they are dropped again."""
    store = _secrets(ctx)
    for key, value in secrets.items():
        store.set(acc.secret_name(name, key), value)
    try:
        acc.append_account(ctx.paths.config_file, name, fields)
    except BaseException:
        acc.forget_secrets(store, name)
        raise


async def _add_mastodon(ctx: Ctx, a: argparse.Namespace) -> str:
    from veille.clients.mastodon import (
        MastodonClient,
        authorize_url,
        exchange_code,
        normalize_instance,
        register_app,
    )

    instance = normalize_instance(a.target)
    name = _new_name(ctx, a.name or acc.default_name("mastodon", instance))
    try:
        app = await register_app(instance)
    except RemoteError as exc:
        raise _remote(f"cannot register veille with {instance}", exc) from None
    out("Open this page in a browser, log in and authorize veille:")
    out(authorize_url(instance, app["client_id"]))
    sys.stdout.flush()
    code = _read_line("Then paste the code it shows here: ")
    if not code:
        raise UserError("no code given (nothing was saved)")
    try:
        token = await exchange_code(instance, app["client_id"], app["client_secret"], code)
        async with MastodonClient(instance, token) as client:
            me = await client.verify()  # some servers hand out a token for any code
            chars, per_url = await client.limits()
    except RemoteError as exc:
        raise _remote("the code was not accepted", exc) from None
    fields = {
        "type": "mastodon",
        "instance": instance,
        "visibility": a.visibility,
        "language": a.language,
        "max_characters": chars,
        "url_length": per_url,
    }
    secrets = {
        "token": token,
        "client_id": str(app["client_id"]),
        "client_secret": str(app["client_secret"]),
    }
    _save(ctx, name, fields, secrets)
    return f"added {name}: @{me.get('acct') or me.get('username') or '?'} on {instance}"


async def _add_bluesky(ctx: Ctx, a: argparse.Namespace) -> str:
    from veille.clients.bluesky import BlueskyClient

    handle = a.target.strip().lstrip("@")
    service = (a.service or acc.DEFAULT_BLUESKY_SERVICE).rstrip("/")
    name = _new_name(ctx, a.name or acc.default_name("bluesky", handle))
    if sys.stdin.isatty():
        password = getpass.getpass(f"App password for @{handle} (not echoed): ")
    else:
        password = sys.stdin.readline().strip()
    if not password:
        raise UserError("no app password given (nothing was saved)")
    try:
        async with BlueskyClient(service, handle, password) as client:
            session = await client.login()
    except RemoteError as exc:
        raise _remote(f"cannot log in as @{handle} on {service}", exc) from None
    fields = {"type": "bluesky", "handle": handle, "service": service, "language": a.language}
    secrets = {"app_password": password, "session": json.dumps(session)}
    _save(ctx, name, fields, secrets)
    return f"added {name}: @{session.get('handle') or handle} on {service}"


async def _add_micropub(ctx: Ctx, a: argparse.Namespace) -> str:
    from veille.clients.micropub import config as micropub_config

    endpoint = a.target.strip()
    if not endpoint.startswith(("http://", "https://")):
        raise UserError(f"a Micropub endpoint is an http(s) URL, not {endpoint!r}")
    if not a.token_file:
        raise UserError("give the token in a file: --token-file FILE (never on the command line)")
    try:
        token = Path(a.token_file).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {a.token_file}: {exc}") from None
    if not token:
        raise UserError(f"{a.token_file} is empty")
    name = _new_name(ctx, a.name or acc.default_name("micropub", endpoint))
    try:
        await micropub_config(endpoint, token)
    except RemoteError as exc:
        raise _remote(f"{endpoint} did not accept the token", exc) from None
    _save(ctx, name, {"type": "micropub", "endpoint": endpoint}, {"token": token})
    return f"added {name}: {endpoint}"


async def _add_command(ctx: Ctx, a: argparse.Namespace) -> str:
    name = _new_name(ctx, a.name or a.target)
    if not a.command_line:
        raise UserError('a command destination needs --command "CMD ARGS"')
    _save(ctx, name, {"type": "command", "command": a.command_line}, {})
    return f"added {name}: {a.command_line}"


ADDERS = {
    "mastodon": _add_mastodon,
    "bluesky": _add_bluesky,
    "micropub": _add_micropub,
    "command": _add_command,
}


@_guarded
def cmd_account_add(ctx: Ctx, a: argparse.Namespace) -> int:
    _accounts(ctx)  # a broken config is reported before any network call
    out(asyncio.run(ADDERS[a.kind](ctx, a)))
    return 0


@_guarded
def cmd_account_list(ctx: Ctx, a: argparse.Namespace) -> int:
    accounts = _accounts(ctx)
    defaults = set(acc.default_destinations(ctx.config, accounts))
    width = max(len(n) for n in accounts)
    for account in accounts.values():
        if a.json:
            json_line(
                {
                    "name": account.name,
                    "type": account.type,
                    "target": account.target,
                    "default": account.name in defaults,
                }
            )
            continue
        mark = "*" if account.name in defaults else " "
        out(f"{mark} {account.name:<{width}}  {account.type:<8}  {account.target}")
    return 0


@_guarded
def cmd_account_remove(ctx: Ctx, a: argparse.Namespace) -> int:
    if a.name == acc.ATOM:
        raise UserError("'atom' is built in; it cannot be removed")
    acc.remove_account(ctx.paths.config_file, a.name)
    n = acc.forget_secrets(_secrets(ctx), a.name)
    out(f"removed {a.name}" + (f" and its {n} secret{'s' if n != 1 else ''}" if n else ""))
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
    s.add_argument("--dry-run", action="store_true", help="print each text; save and send nothing")
    s.add_argument("--retry", action="store_true", help="re-queue a failed share (ID is its id)")
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
    s.add_argument("--format", choices=("md", "html"), default="md")
    s.add_argument("--out", metavar="FILE", help="write here (default: stdout)")
    s.set_defaults(func=cmd_digest)

    s = sub.add_parser("account", help="add, list or remove share destinations")
    asub = s.add_subparsers(dest="account_command", metavar="ACTION", required=True)
    t = asub.add_parser("add", help="add a destination")
    t.add_argument("kind", choices=sorted(ADDERS))
    t.add_argument(
        "target", help="instance URL, Bluesky handle, Micropub endpoint, or a command's name"
    )
    t.add_argument("--name", help="name to share --to (default: from the target)")
    t.add_argument("--service", help="Bluesky PDS (default https://bsky.social)")
    t.add_argument("--token-file", metavar="FILE", help="Micropub token, read from this file")
    t.add_argument(
        "--command", dest="command_line", help="command destination: the command line to run"
    )
    t.add_argument("--visibility", choices=acc.VISIBILITIES, help="Mastodon visibility")
    t.add_argument("--language", help="default language of posts (ISO 639-1)")
    t.set_defaults(func=cmd_account_add)
    t = asub.add_parser("list", help="list destinations (never secrets)")
    t.add_argument("--json", action="store_true", help="JSON Lines")
    t.set_defaults(func=cmd_account_list)
    t = asub.add_parser("remove", help="remove a destination and its secrets")
    t.add_argument("name")
    t.set_defaults(func=cmd_account_remove)
