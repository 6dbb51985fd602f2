"""The full article of an item, for the item pane: fetched from the item's page,
cached in the store, and shown with the same renderer as the feed's text.

The same path as `veille article ID`: the polite fetcher (per-host limits, size
cap, time-outs), readability in a thread, ``store.save_article``.  Every
failure is one line; the caller keeps the feed's own text.  No Textual.
"""

from __future__ import annotations

from dataclasses import replace

from veille.config import Config
from veille.domain.records import Content, Feed, Item
from veille.store.store import Store

__all__ = ["article_content", "fetch_and_cache", "wants_article"]


async def fetch_and_cache(store: Store, config: Config, item_id: str) -> str:
    """Fetch the item's page, extract its article and cache it; "" when it worked,
    else why not in one line (network, HTTP, not HTML, no article on the page)."""
    item = store.get_item(item_id)
    if item is None:
        return "the item is gone"
    link = item.link.strip()
    if not link:
        return "the item has no link"
    # Imported here: lxml and readability cost ~45 ms the first paint need not pay.
    from veille.extract import fetch_article
    from veille.refresh.runner import fetcher_for

    async with fetcher_for(config) as fetcher:
        article = await fetch_article(fetcher, link)
    if article.error is not None:
        return article.error
    store.save_article(item_id, article.html, article.url)
    return ""


def article_content(content: Content) -> Content | None:
    """The cached article as a body the item pane renders (links resolve against
    the page's final URL; the feed's enclosures stay listed), or None."""
    if not content.article:
        return None
    return replace(content, html=content.article, type="html", base=content.article_url)


def wants_article(item: Item, feed: Feed | None) -> bool:
    """Whether the pane should show (and fetch) the article without being asked:
    the feed's "always fetch the full article" setting, for items with a link."""
    return bool(feed is not None and feed.full_text and item.link.strip())
