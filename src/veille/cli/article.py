"""`veille article ID`: an item's full article as plain text, links listed at the end.

The same path as the app's "full article" key: the cached article if there is
one, else the item's page through the polite fetcher, extracted, cached in the
store, and rendered by the item pane's HTML renderer, so what the command
prints is what the pane shows, without the styles.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING, Any

from veille.cli.context import Ctx, UserError
from veille.cli.output import out
from veille.render.hygiene import clean_line

if TYPE_CHECKING:
    from veille.extract import Article


async def _fetch(ctx: Ctx, url: str) -> Article:
    # Imported here: lxml, readability and the HTTP client cost ~0.1 s that other
    # commands (building the parser imports this module) need not pay.
    from veille.extract import fetch_article
    from veille.refresh.runner import fetcher_for

    async with fetcher_for(ctx.config) as fetcher:
        return await fetch_article(fetcher, url)


def cmd_article(ctx: Ctx, a: argparse.Namespace) -> int:
    from veille.render.html import link_list, render_html

    store = ctx.store
    iid = store.resolve_id(a.id)
    item = store.get_item(iid)
    if item is None:
        raise UserError(f"unknown item id '{a.id}'")
    cached = None if a.refetch else store.get_article(iid)
    if cached is not None:
        html, url = cached
    else:
        link = item.link.strip()
        if not link:
            raise UserError(f"no full article for item {iid}: the item has no link")
        article = asyncio.run(_fetch(ctx, link))
        if article.error is not None:
            raise UserError(f"no full article for item {iid}: {article.error}")
        store.save_article(iid, article.html, article.url)
        ctx.save()
        html, url = article.html, article.url
    rendered = render_html(html, base_url=url, width_hint=a.width)
    title = clean_line(item.display_title)
    if title:
        out(title)
    out(clean_line(url))
    out("")
    out(rendered.text.plain)
    if rendered.links:
        out("")
        out(link_list(rendered.links).plain)
    return 0


def register(sub: Any) -> None:
    s = sub.add_parser(
        "article",
        help="fetch an item's full article from its page and print it as text",
        description="Print an item's full article (fetched from its link, then cached).",
    )
    s.add_argument("id", metavar="ID", help="item id (or a unique prefix)")
    s.add_argument("--refetch", action="store_true", help="fetch the page again, not the cache")
    s.add_argument("--width", type=int, default=80, help="width for tables and rules")
    s.set_defaults(func=cmd_article)
