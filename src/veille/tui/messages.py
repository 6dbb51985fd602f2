"""Messages screens send up to the app (they bubble from a screen to the app).

The app owns what outlives a screen (refresh, the outbox, the browser); a screen
asks for it with one of these instead of calling into the app, so screens never
import the app and the app never reaches into a screen's widgets: it changes its
own reactives (``counts``, ``items_version``, ``progress``...), which screens watch.
"""

from __future__ import annotations

from textual.message import Message


class RefreshRequested(Message):
    """Poll these feeds (None: all); ``quiet``: no note when nothing happened."""

    def __init__(self, feed_ids: list[str] | None, *, quiet: bool = False) -> None:
        super().__init__()
        self.feed_ids = feed_ids
        self.quiet = quiet


class SendShares(Message):
    """Send the due deliveries of these shares now."""

    def __init__(self, share_ids: list[str]) -> None:
        super().__init__()
        self.share_ids = share_ids


class OpenUrl(Message):
    """Open a link in the browser (http and https only)."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url


class StateChanged(Message):
    """The screen changed items' state (read, star...): counts follow."""


class AddFeedRequested(Message):
    """Ask for a feed or page address (or an OPML file) and subscribe."""


class Subscribed(Message):
    """The welcome screen added feeds: on to the stream and a first refresh."""

    def __init__(self, feed_id: str | None) -> None:
        super().__init__()
        self.feed_id = feed_id


class SubscribeRequested(Message):
    """Subscribe to ``url`` (``pick``: which of several feeds found there)."""

    def __init__(self, url: str, pick: int | None = None) -> None:
        super().__init__()
        self.url = url
        self.pick = pick


class CheckConfig(Message):
    """The composer opened: a cheap look whether config.toml changed on disk."""


class FirstPaint(Message):
    """The stream drew its first rows (the start-up benchmark waits for this)."""


class ItemsChanged(Message):
    """A screen changed which items exist or show (a feed removed or muted, a rule
    added): every view reloads and the counts follow."""


class ArticleRequested(Message):
    """Fetch the full article of item ``item_id`` from its page and cache it
    (``quiet``: the feed asked for it, not the user: no note when it fails)."""

    def __init__(self, item_id: str, *, quiet: bool = False) -> None:
        super().__init__()
        self.item_id = item_id
        self.quiet = quiet


class ResponsesSeen(Message):
    """The user looked at what came back to their shares (the Shares view): the
    status bar's "N new responses" is done."""
