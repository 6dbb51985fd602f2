"""What the composer needs from share/: destinations, the live preview, sending.

The one place the app calls the sharing code (``build_share``, ``create_share``,
``retry``, ``send_pending``, ``length_check``, ``load_accounts``,
``default_destinations``), so its rewrite into a Destination protocol touches
this file only.  No Textual: the screens show what these functions return.

An item seen through posts of people you follow can be shared three ways
(``Choices.answer``): crediting the sharer ("via @alice@instance", the
default: the first sharer), replying to their post, or quoting it.  Which post
is ``Choices.post``; each destination's preview says how it will carry it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from veille.accounts.config import (
    ATOM,
    Account,
    AccountError,
    atom_path,
    default_destinations,
    load_accounts,
    open_secrets,
)
from veille.config import Config
from veille.domain.errors import VeilleError
from veille.domain.records import Draft, Item
from veille.domain.share import NETWORKS, Delivery, PostRef, Share
from veille.render.hygiene import clean_line
from veille.share.compose import (
    credit_name,
    credit_via,
    make_via,
    post_ref,
    render_text,
    suggest_hashtags,
)
from veille.store.store import Store
from veille.util.dates import iso, now

log = logging.getLogger(__name__)

__all__ = [
    "ANSWER_LABELS",
    "Choices",
    "ComposeError",
    "ComposeService",
    "Delivered",
    "PreviewEntry",
    "Sent",
    "has_pending",
    "needs_attention",
]


class ComposeError(VeilleError):
    """A share could not be made or re-queued; the message is one line."""


def _outbox() -> Any:
    """share.outbox, imported on first use: it brings the HTTP clients, which the
    app's first paint does not need (and share/ is being reshaped: one import)."""
    from veille.share import outbox

    return outbox


#: The ways a share can answer a sharer's post, in the order ctrl+r cycles them.
ANSWERS = ("credit", "reply", "quote")
ANSWER_LABELS = {"credit": "credit", "reply": "reply to", "quote": "quote"}


@dataclass
class Choices:
    """What the composer lets you tick: destinations and suggested hashtags, and
    for an item people you follow shared, whose post it answers and how."""

    destinations: list[str] = field(default_factory=list)  # every known destination
    ticked: list[str] = field(default_factory=list)  # those that will get the share
    hashtags: list[str] = field(default_factory=list)  # suggested (and kept) tags
    tags_on: list[str] = field(default_factory=list)  # those that will be added
    posts: list[PostRef] = field(default_factory=list)  # the sharers' posts, first first
    post: int = 0  # which of them is credited, replied to or quoted
    answer: str = "credit"  # one of ANSWERS

    @property
    def chosen(self) -> PostRef | None:
        """The post the share credits, replies to or quotes (None: no sharer)."""
        return self.posts[self.post] if 0 <= self.post < len(self.posts) else None

    @property
    def share_answer(self) -> str:
        """``Share.answer``: "reply" / "quote", or "" for a plain (crediting) share."""
        return self.answer if self.answer in ("reply", "quote") and self.chosen else ""

    def describe(self) -> str:
        """One line for the composer's title: "via @alice@a.example", "reply to
        @bob.bsky.social", "quote @cat@c.example" (and which of several)."""
        post = self.chosen
        if post is None:
            return ""
        who = credit_name(post)
        line = f"via {who}" if self.answer == "credit" else f"{ANSWER_LABELS[self.answer]} {who}"
        if len(self.posts) > 1:
            line += f" ({self.post + 1}/{len(self.posts)})"
        return line


@dataclass(frozen=True)
class PreviewEntry:
    """One destination's text and its length verdict."""

    name: str  # the destination (account) name
    kind: str  # mastodon | bluesky | micropub | command | atom
    text: str  # the text as it will be posted
    counter: str  # "123/500 characters" (the length check's reason when over)
    ok: bool = True  # within the limit
    note: str = ""  # how a reply or quote goes here ("a reply to @bob's post")


@dataclass
class Sent:
    """What ctrl+s did: the share saved (None when nothing was), the destinations
    refused with their reason, or the one-line error that stopped it."""

    share: Share | None = None
    to: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    error: str = ""


@dataclass(frozen=True)
class Delivered:
    """One delivery handled by the outbox, for a notification."""

    share_id: str
    destination: str
    status: str
    url: str
    error: str

    def line(self) -> str:
        name = clean_line(self.destination)
        if self.status == "sent":
            return f"{name}: sent" + (f" — {clean_line(self.url)}" if self.url else "")
        if self.status == "queued":
            return f"{name}: queued, will retry — {clean_line(self.error) or 'waiting'}"
        return f"{name}: failed — {clean_line(self.error) or 'unknown error'}"


def needs_attention(share: Share) -> bool:
    """A share with a delivery that failed, or waits after an error: editable, retriable."""
    return any(
        d.status == "failed" or (d.status == "queued" and d.error)
        for d in share.deliveries.values()
    )


def has_pending(shares: list[Share]) -> bool:
    return any(d.status in ("queued", "sending") for s in shares for d in s.deliveries.values())


class ComposeService:
    """Accounts (re-read when the config changes), previews, shares and sending."""

    def __init__(self, store: Store, config: Config, config_dir: Path) -> None:
        self.store = store
        self.config = config
        self.config_dir = config_dir
        # mastodon account -> learnt (max characters, characters per URL or None: in full)
        self.limits: dict[str, tuple[int, int | None]] = {}
        self.asked: set[str] = set()
        self._accounts: dict[str, Account] | None = None
        self._secrets: Any = None
        self.accounts_error = ""

    # ------------------------------------------------------------ accounts
    def reload(self, config: Config) -> None:
        """The config file changed: accounts and defaults are read again."""
        self.config = config
        self._accounts = None

    @property
    def secrets(self) -> Any:
        """The secret store, opened on first use (a keyring backend can be slow)."""
        if self._secrets is None:
            self._secrets = open_secrets(self.config_dir)
        return self._secrets

    def accounts(self) -> dict[str, Account]:
        """Every destination, with Mastodon limits learnt from the instance when known.

        A broken ``[accounts]`` table leaves the Atom feed (``accounts_error`` says
        why), so sharing still works."""
        if self._accounts is None:
            data = self.store.data_dir
            try:
                accounts = load_accounts(self.config, data)
                self.accounts_error = ""
            except AccountError as exc:
                self.accounts_error = f"config [accounts]: {clean_line(str(exc))}"
                accounts = {
                    ATOM: Account(name=ATOM, type=ATOM, path=str(atom_path(self.config, data)))
                }
            self._accounts = accounts
        out = dict(self._accounts)
        for name, account in out.items():
            known = self.limits.get(name)
            if account.type == "mastodon" and known is not None:
                out[name] = replace(account, max_characters=known[0], url_length=known[1])
        return out

    def to_learn(self, names: list[str]) -> list[tuple[str, Account]]:
        """Mastodon accounts among ``names`` whose limits were never asked for."""
        accounts = self.accounts()
        out = []
        for name in names:
            account = accounts.get(name)
            if account is not None and account.type == "mastodon" and name not in self.asked:
                self.asked.add(name)
                out.append((name, account))
        return out

    async def learn_limits(self, name: str, account: Account) -> bool:
        """Ask one Mastodon instance for its limits, and whether it takes quote
        posts (kept in the destination's cache, where the preview reads it);
        False when it would not say."""
        from veille.share.destinations.mastodon import MastodonDestination

        try:
            dest = MastodonDestination(account)
            learnt = await dest.learn_limits()
        except Exception:  # only a nicer counter: the defaults stand
            log.info("could not learn the limits of %s", name, exc_info=True)
            self.asked.discard(name)
            return False
        if dest.cache.get(account) is None:  # the instance did not answer
            self.asked.discard(name)
            return False
        self.limits[name] = (learnt.max_characters, learnt.characters_reserved_per_url)
        return True

    # ------------------------------------------------------------ composer
    def posts(self, item: Item) -> list[PostRef]:
        """The posts through which people you follow shared ``item``, in the order
        they came (one per post: a post seen through two timelines is one)."""
        out: dict[tuple[str, str], PostRef] = {}
        for s in item.sightings:
            if s.kind == "entry" or not s.post_url:
                continue
            feed = self.store.get_feed(s.source)
            network = feed.kind if feed is not None and feed.kind in NETWORKS else ""
            if not network:
                network = "bluesky" if s.key.startswith("at://") else "mastodon"
            ref = post_ref(s, network)
            if ref is not None and (ref.url, ref.sharer) not in out:
                out[(ref.url, ref.sharer)] = ref
        return list(out.values())

    def choices(self, item: Item, draft: Draft | None = None) -> Choices:
        """Defaults for a new share of ``item``: the configured destinations ticked,
        every hashtag suggested by its categories ticked (the preview shows them),
        the first sharer credited (or what the draft chose)."""
        accounts = self.accounts()
        ticked = [n for n in default_destinations(self.config, accounts) if n in accounts]
        tags = suggest_hashtags(list(item.categories))
        ch = Choices(list(accounts), ticked, tags, list(tags), posts=self.posts(item))
        if draft is not None and draft.post:
            ch.post = next((i for i, p in enumerate(ch.posts) if p.url == draft.post), 0)
        if draft is not None and draft.answer and ch.posts:
            ch.answer = draft.answer
        return ch

    def prefill(self, item: Item, post: PostRef | None = None) -> str:
        """The template filled for ``item`` without a comment: the preview before typing."""
        feed = self.store.get_feed(item.feed)
        source = feed.name if feed else ""
        if post is None:
            posts = self.posts(item)
            post = posts[0] if posts else None
        share = Share(
            id="",
            item_id=item.id,
            comment="",
            created="",
            title=item.title,
            link=item.link,
            source=source,
            author=item.author,
            via=(credit_via(post) if post is not None else "")
            or make_via(source, author=item.author),
        )
        return render_text(share, self.config["share.template"]) + "\n"

    def preview(
        self,
        item_id: str,
        text: str,
        ticked: list[str],
        tags_on: list[str],
        *,
        post: PostRef | None = None,
        answer: str = "",
    ) -> list[PreviewEntry]:
        """Each ticked destination's text as the outbox will post it, its counter,
        and how it carries a reply or a quote (or why it cannot)."""
        if not ticked:
            return []
        accounts = self.accounts()
        outbox = _outbox()
        try:
            share = outbox.build_share(
                self.store,
                self.config,
                item_id,
                text,
                to=[n for n in ticked if n in accounts],
                hashtags=list(tags_on),
                accounts=accounts,
                post=post,
                answer=answer,
            )
        except outbox.OutboxError as exc:
            return [PreviewEntry("?", "", "", clean_line(str(exc)), False)]
        from veille.share.destinations import destination_for

        entries = []
        for name, d in share.deliveries.items():
            plan = destination_for(accounts[name]).answer(share)
            if not plan.ok:
                entries.append(PreviewEntry(name, d.kind, "", plan.note, False))
                continue
            verdict = outbox.length_check(share, d, accounts[name])
            entries.append(
                PreviewEntry(name, d.kind, d.text, verdict.reason, verdict.ok, plan.note)
            )
        return entries

    def earlier(self, item_id: str) -> list[Share]:
        """Shares already made of this item, newest first."""
        return [s for s in self.store.shares() if s.item_id == item_id]

    def duplicate_warning(self, item_id: str, editing: str | None = None) -> str:
        """One line when the item was shared before (not counting the share being edited)."""
        earlier = [s for s in self.earlier(item_id) if s.id != editing]
        if not earlier:
            return ""
        last = earlier[0]
        where = ", ".join(clean_line(n) for n in last.deliveries) or "nowhere"
        when = clean_line(last.created)[:10]
        times = f" ({len(earlier)} times)" if len(earlier) > 1 else ""
        return f"already shared{times}: {when} to {where}"

    def draft_for_edit(self, share: Share) -> Draft:
        """A failed share back in the composer: its comment, its unsent destinations,
        the post it replied to or quoted."""
        draft = Draft(
            item_id=share.item_id,
            text=share.comment,
            to=tuple(n for n, d in share.deliveries.items() if d.status != "sent"),
            hashtags=tuple(share.hashtags),
            share_id=share.id,
            updated=iso(now()),
            answer=share.answer,
            post=share.post.url if share.post is not None else "",
        )
        self.store.save_draft(draft, durable=False)
        return draft

    def send(
        self,
        item_id: str,
        text: str,
        ticked: list[str],
        tags_on: list[str],
        share_id: str | None = None,
        *,
        post: PostRef | None = None,
        answer: str = "",
    ) -> Sent:
        """Save the share durably (before any network call) to the destinations whose
        text fits (and that can carry a reply or a quote); the draft goes once the
        share is on disk.  Nothing is sent here."""
        out = Sent()
        if answer == "reply" and not text.strip():
            out.error = "write your reply first"
            return out
        entries = self.preview(item_id, text, ticked, tags_on, post=post, answer=answer)
        out.refused = [(e.name, e.counter) for e in entries if not e.ok]
        to = [e.name for e in entries if e.ok]
        if not to:
            return out
        accounts = self.accounts()
        outbox = _outbox()
        try:
            old = self.store.get_share(share_id) if share_id else None
            if old is not None and share_id is not None:
                if old.hashtags != tags_on:
                    old.hashtags = list(tags_on)
                    self.store.put_share(old)
                share = outbox.retry(self.store, self.config, share_id, to, text, accounts=accounts)
            else:
                share = outbox.create_share(
                    self.store,
                    self.config,
                    item_id,
                    text,
                    to=to,
                    hashtags=list(tags_on),
                    accounts=accounts,
                    post=post,
                    answer=answer,
                )
        except (outbox.OutboxError, OSError) as exc:
            out.error = clean_line(str(exc))
            return out
        self.store.delete_draft(item_id)
        out.share, out.to = share, to
        return out

    def retry(self, share_id: str) -> Share:
        """Re-queue a share's failed or waiting deliveries (raises ComposeError)."""
        outbox = _outbox()
        try:
            share: Share = outbox.retry(self.store, self.config, share_id, accounts=self.accounts())
        except outbox.OutboxError as exc:
            raise ComposeError(clean_line(str(exc))) from None
        return share

    async def send_pending(self, share_ids: list[str] | None) -> list[Delivered]:
        """Send what is due (of ``share_ids``, or all), with accounts as the config
        says now: a share added from the command line names accounts this app may
        not have read yet, and must not fail for it."""
        done = await _outbox().send_pending(
            self.store,
            self.config,
            self.secrets,
            share_ids=share_ids,
            accounts=self.accounts(),
        )
        return [_delivered(sid, name, d) for sid, name, d in done]


def _delivered(share_id: str, name: str, d: Delivery) -> Delivered:
    return Delivered(share_id, name, d.status, d.url or "", d.error or "")
