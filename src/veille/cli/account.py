"""`veille account add|list|remove|default`: the destinations shares go to.

Registered into the main parser by ``register(sub)``.  Secrets are read from a
file or a prompt that does not echo, are never printed, and are taken out of
any server message before it is shown.  Each failure says what was tried and
what to do, in one line.
"""

from __future__ import annotations

import argparse
import functools
import getpass
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from veille.accounts import config as acc
from veille.accounts.redact import Redactor
from veille.cli.context import Ctx, UserError
from veille.cli.output import json_line, out
from veille.clients.errors import RemoteError
from veille.config import load_config
from veille.domain.errors import VeilleError

#: What a server answers to an authorisation code it does not take: RFC 6749 says
#: 400 invalid_grant, Mastodon answers 400/401, some (snac, Pleroma) 403 or 422.
REFUSED = (400, 401, 403, 422)


def guarded(func: Callable[[Ctx, argparse.Namespace], int]) -> Callable[..., int]:
    """Our errors become one line on stderr (no traceback), whichever way veille runs."""

    @functools.wraps(func)
    def run(ctx: Ctx, a: argparse.Namespace) -> int:
        try:
            return func(ctx, a)
        except acc.AccountError as exc:
            raise UserError(str(exc), 2) from None
        except VeilleError as exc:
            raise UserError(str(exc)) from None

    return run


def _secrets(ctx: Ctx) -> Any:
    return acc.open_secrets(ctx.paths.config)


def read_line(prompt: str) -> str:
    """One line from stdin after a prompt on stderr (stdout stays for results)."""
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline().strip()
    if not sys.stdin.isatty():
        sys.stderr.write("\n")  # piped: end the prompt's line ourselves
    return line


def interactive() -> bool:
    """Whether a person can answer a question (stdin and stderr are terminals)."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def confirm(prompt: str) -> bool:
    """A y/N question; anything but yes is no."""
    return read_line(prompt).strip().lower() in ("y", "yes")


def _new_name(ctx: Ctx, name: str) -> str:
    from veille.accounts import edit  # tomlkit: only when editing config.toml

    edit.check_name(name)
    if name in ctx.config["accounts"]:
        raise UserError(f"an account named '{name}' exists already (give another with --name)")
    return name


def _save(ctx: Ctx, name: str, fields: dict[str, Any], secrets: dict[str, str]) -> None:
    """Secrets first; if the config cannot take the table, they are dropped again."""
    from veille.accounts import edit  # tomlkit: only when editing config.toml

    store = _secrets(ctx)
    for key, value in secrets.items():
        store.set(acc.secret_name(name, key), value)
    try:
        edit.append_account(ctx.paths.config_file, name, fields)
    except BaseException:
        acc.forget_secrets(store, name)
        raise


def _reason(exc: RemoteError, redact: Callable[[str | None], str]) -> str:
    """The server's reason, secrets out; "network error: ConnectError" in words."""
    text = redact(str(exc))
    if exc.status is None and text.startswith("network error"):
        kind = text.split(":", 1)[-1].strip()
        return {
            "ConnectError": "could not connect",
            "ConnectTimeout": "could not connect in time",
        }.get(kind, text)
    return text


def _with_scheme(typed: str) -> tuple[str, bool]:
    """(the URL, whether https:// was assumed because none was typed)."""
    typed = typed.strip()
    if "://" in typed:
        return typed.rstrip("/"), False
    return "https://" + typed.rstrip("/"), True


def _unreachable(url: str, typed: str, assumed: bool, reason: str) -> UserError:
    hint = ""
    if assumed:
        hint = (
            f"; https:// was assumed since {typed!r} has none: give the full URL "
            f"(e.g. http://{typed}) if that is wrong"
        )
    return UserError(f"cannot reach {url}: {reason}{hint} (nothing was saved)")


def _network(exc: RemoteError) -> bool:
    return exc.status is None and not exc.permanent


# ------------------------------------------------------------------ mastodon
async def _add_mastodon(ctx: Ctx, a: argparse.Namespace) -> tuple[str, str]:
    from veille.clients.mastodon import (
        MastodonClient,
        authorize_url,
        exchange_code,
        register_app,
    )
    from veille.share.destinations.mastodon import MastodonDestination

    instance, assumed = _with_scheme(a.target)
    if assumed:
        out(f"No scheme given: using {instance}")
    name = _new_name(ctx, a.name or acc.default_name("mastodon", instance))
    try:
        app = await register_app(instance)
    except RemoteError as exc:
        reason = _reason(exc, Redactor())
        if _network(exc):
            raise _unreachable(f"{instance}/api/v1/apps", a.target, assumed, reason) from None
        raise UserError(
            f"cannot register veille with {instance}: {reason} "
            "(is it a Mastodon-compatible server?) (nothing was saved)"
        ) from None
    client_id, client_secret = str(app["client_id"]), str(app["client_secret"])
    out("Open this page in a browser, log in and authorize veille:")
    out(authorize_url(instance, client_id))
    sys.stdout.flush()
    code = read_line("Then paste the code it shows here: ")
    if not code:
        raise UserError("no code given (nothing was saved)")
    redact = Redactor([client_secret, code])
    again = f"run `veille account add mastodon {a.target}` again to get a new one"
    try:
        token = await exchange_code(instance, client_id, client_secret, code)
        redact = Redactor([client_secret, code, token])
        async with MastodonClient(instance, token) as client:
            me = await client.verify()  # some servers hand out a token for any code
    except RemoteError as exc:
        reason = _reason(exc, redact)
        if _network(exc):
            raise _unreachable(instance, a.target, assumed, reason) from None
        if exc.status in REFUSED or exc.status is None:
            raise UserError(
                f"the code was not accepted: {instance} refused it ({reason}); a code is "
                f"used once and expires within minutes: {again} (nothing was saved)"
            ) from None
        raise UserError(f"the code was not accepted: {reason} (nothing was saved)") from None
    fields = {
        "type": "mastodon",
        "instance": instance,
        "visibility": a.visibility,
        "language": a.language,
    }
    secrets = {"token": token, "client_id": client_id, "client_secret": client_secret}
    _save(ctx, name, fields, secrets)
    # Learn the instance's limits now, so the composer's counter is right from the start.
    account = acc.load_accounts(ctx.paths.config_file, ctx.paths.data)[name]
    limits = await MastodonDestination(account, cache_dir=ctx.paths.cache).learn_limits(force=True)
    per_url = limits.characters_reserved_per_url
    counted = f"URLs count {per_url}" if per_url is not None else "URLs count in full"
    who = me.get("acct") or me.get("username") or "?"
    return name, (
        f"added {name}: @{who} on {instance} ({limits.max_characters} characters, {counted})"
    )


# ------------------------------------------------------------------- bluesky
async def _add_bluesky(ctx: Ctx, a: argparse.Namespace) -> tuple[str, str]:
    from veille.clients.bluesky import BlueskyClient

    handle = a.target.strip().lstrip("@")
    service, assumed = _with_scheme(a.service or acc.DEFAULT_BLUESKY_SERVICE)
    if assumed:
        out(f"No scheme given: using {service}")
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
        reason = _reason(exc, Redactor([password]))
        if _network(exc):
            raise _unreachable(service, a.service or "", assumed, reason) from None
        raise UserError(
            f"cannot log in as @{handle} on {service}: {reason} "
            "(use an app password: Settings → Privacy and security → App passwords) "
            "(nothing was saved)"
        ) from None
    fields = {"type": "bluesky", "handle": handle, "service": service, "language": a.language}
    secrets = {"app_password": password, "session": json.dumps(session)}
    _save(ctx, name, fields, secrets)
    return name, f"added {name}: @{session.get('handle') or handle} on {service}"


# ------------------------------------------------------------------ micropub
async def _add_micropub(ctx: Ctx, a: argparse.Namespace) -> tuple[str, str]:
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
        reason = _reason(exc, Redactor([token]))
        if _network(exc):
            raise _unreachable(endpoint, endpoint, False, reason) from None
        raise UserError(
            f"{endpoint} did not accept the token: {reason} (nothing was saved)"
        ) from None
    _save(ctx, name, {"type": "micropub", "endpoint": endpoint}, {"token": token})
    return name, f"added {name}: {endpoint}"


# ------------------------------------------------------------------- command
async def _add_command(ctx: Ctx, a: argparse.Namespace) -> tuple[str, str]:
    name = _new_name(ctx, a.name or a.target)
    if not a.command_line:
        raise UserError('a command destination needs --command "CMD ARGS"')
    _save(ctx, name, {"type": "command", "command": a.command_line}, {})
    return name, f"added {name}: {a.command_line}"


ADDERS = {
    "mastodon": _add_mastodon,
    "bluesky": _add_bluesky,
    "micropub": _add_micropub,
    "command": _add_command,
}


def _defaults_now(ctx: Ctx) -> list[str]:
    return acc.default_destinations(load_config(ctx.paths.config_file))


def _offer_default(ctx: Ctx, name: str, choice: bool | None) -> None:
    """Say where shares go now; make ``name`` a default if asked (flag, or y on a terminal)."""
    from veille.accounts import edit  # tomlkit: only when editing config.toml

    if choice is None and interactive():
        current = ", ".join(_defaults_now(ctx))
        choice = confirm(
            f"Shares go to {current} unless you say --to. Send them to {name} too by "
            "default? [y/N] "
        )
    if choice:
        names = edit.add_default(ctx.paths.config_file, name)
        out(f"shares now go to {', '.join(names)} by default (share.default_to)")
        return
    current = ", ".join(_defaults_now(ctx))
    out(
        f"shares still go to {current} by default: share to {name} with `--to {name}`, "
        f"or make it a default with `veille account default {name}`"
    )


@guarded
def cmd_account_add(ctx: Ctx, a: argparse.Namespace) -> int:
    import asyncio

    acc.load_accounts(ctx.config, ctx.paths.data)  # a broken config is reported before any call
    name, message = asyncio.run(ADDERS[a.kind](ctx, a))
    out(message)
    _offer_default(ctx, name, a.default)
    return 0


@guarded
def cmd_account_list(ctx: Ctx, a: argparse.Namespace) -> int:
    accounts = acc.load_accounts(ctx.config, ctx.paths.data)
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
    if not a.json:
        out("(* = a default destination: shares go there unless you say --to)")
    return 0


@guarded
def cmd_account_remove(ctx: Ctx, a: argparse.Namespace) -> int:
    from veille.accounts import edit  # tomlkit: only when editing config.toml
    from veille.share.destinations.mastodon import LIMITS_FILE, LimitsCache

    if a.name == acc.ATOM:
        raise UserError("'atom' is built in; it cannot be removed")
    edit.remove_account(ctx.paths.config_file, a.name)
    n = acc.forget_secrets(_secrets(ctx), a.name)
    LimitsCache(ctx.paths.cache / LIMITS_FILE).forget(a.name)
    out(f"removed {a.name}" + (f" and its {n} secret{'s' if n != 1 else ''}" if n else ""))
    return 0


@guarded
def cmd_account_default(ctx: Ctx, a: argparse.Namespace) -> int:
    from veille.accounts import edit  # tomlkit: only when editing config.toml

    accounts = acc.load_accounts(ctx.config, ctx.paths.data)
    if a.name not in accounts:
        raise UserError(f"no account named '{a.name}' (see `veille account list`)")
    if a.off:
        edit.remove_default(ctx.paths.config_file, a.name)
    else:
        edit.add_default(ctx.paths.config_file, a.name)
    out(f"shares now go to {', '.join(_defaults_now(ctx))} by default (share.default_to)")
    return 0


def register(sub: Any) -> None:
    """Add the `account` command group to the main parser's subparsers."""
    s = sub.add_parser("account", help="add, list or remove share destinations")
    asub = s.add_subparsers(dest="account_command", metavar="ACTION", required=True)
    t = asub.add_parser("add", help="add a destination")
    t.add_argument("kind", choices=sorted(ADDERS), help="the kind of destination")
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
    t.add_argument(
        "--default",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="make it a default destination (share.default_to); asked on a terminal",
    )
    t.set_defaults(func=cmd_account_add)
    t = asub.add_parser("list", help="list destinations (never secrets)")
    t.add_argument("--json", action="store_true", help="JSON Lines")
    t.set_defaults(func=cmd_account_list)
    t = asub.add_parser("remove", help="remove a destination and its secrets")
    t.add_argument("name", help="the destination's name (see `veille account list`)")
    t.set_defaults(func=cmd_account_remove)
    t = asub.add_parser("default", help="make a destination a default one (or not, --off)")
    t.add_argument("name", help="the destination's name (see `veille account list`)")
    t.add_argument("--off", action="store_true", help="stop sharing to it by default")
    t.set_defaults(func=cmd_account_default)
