"""The text of a share: template filling, hashtags, quoting.  No I/O.

The template is the config key ``share.template``; placeholders are
``{comment} {title} {link} {via} {source} {source_url} {author} {hashtags}``.
A share that credits someone you follow says so in ``{via}`` ("via
@alice@instance"); a reply or a quote of their post (``Share.answer``) is your
comment alone, since the post it answers already carries the title and link.
They are filled by a plain regex, not ``str.format``: a user's template must
not reach attributes (``{title.__class__}``) nor fail on a stray brace.
``{{`` and ``}}`` give literal braces; unknown placeholders render empty.
"""

from __future__ import annotations

import html
import re
import unicodedata

from veille.domain.links import is_http_url
from veille.domain.records import Sighting
from veille.domain.share import PostRef, Share
from veille.render.hygiene import clean_line, clean_text

DEFAULT_TEMPLATE = "{comment}\n\n{title}\n{link}\n{via}"  # = config "share.template"

FIELDS = ("comment", "title", "link", "via", "source", "source_url", "author", "hashtags")

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_]+)\}")


def _hashtag(category: str) -> str:
    """One category as a hashtag body, or "" when nothing valid is left."""
    category = unicodedata.normalize("NFC", clean_line(category, strip_bom=True))
    category = category.lstrip("#＃")
    words = [w for w in re.split(r"[^\w]+", category) if w]
    if not words:
        return ""
    # "machine learning" -> "MachineLearning"; a single word ("iOS") is kept as is.
    tag = words[0] if len(words) == 1 else "".join(w[:1].upper() + w[1:] for w in words)
    if not any(ch.isalpha() for ch in tag):
        return ""  # Mastodon needs a letter: "2024" is no hashtag
    return tag


def suggest_hashtags(categories: list[str], limit: int = 5) -> list[str]:
    """Hashtags (without '#') from an item's categories, deduped case-insensitively."""
    seen: set[str] = set()
    tags: list[str] = []
    for category in categories:
        for part in re.split(r"[,;/|]", category or ""):
            tag = _hashtag(part)
            if tag and tag.casefold() not in seen:
                seen.add(tag.casefold())
                tags.append(tag)
            if len(tags) >= limit:
                return tags
    return tags


def hashtag_line(hashtags: list[str]) -> str:
    """'#a #b' from tag names with or without '#'; invalid ones are dropped."""
    seen: set[str] = set()
    out: list[str] = []
    for raw in hashtags:
        tag = _hashtag(raw)
        if tag and tag.casefold() not in seen:
            seen.add(tag.casefold())
            out.append("#" + tag)
    return " ".join(out)


def make_via(source: str, *, author: str = "") -> str:
    """Attribution: "via @handle" for social sources, else "via <feed or author>"."""
    source = clean_line(source, strip_bom=True)
    author = clean_line(author, strip_bom=True)
    name = source or author
    return f"via {name}" if name else ""


def credit_name(post: PostRef) -> str:
    """Who a share credits: whoever shared the post with you, by @handle (a
    mention on Mastodon and on Bluesky, so they hear of it), else by name."""
    for name in (post.sharer, post.handle):
        name = clean_line(name, strip_bom=True)
        if name.startswith("@"):
            return name
    return clean_line(post.author, strip_bom=True) or clean_line(post.sharer or post.handle)


def credit_via(post: PostRef) -> str:
    """ "via @alice@instance": the ``{via}`` of a share that credits a sharer."""
    name = credit_name(post)
    return f"via {name}" if name else ""


def post_ref(sighting: Sighting, network: str) -> PostRef | None:
    """The post behind a social sighting (None for a feed's entry, or a post
    without a web address), as a share names it.  ``network`` is the kind of
    the source it came through ("mastodon", "bluesky")."""
    if sighting.kind == "entry" or not is_http_url(sighting.post_url):
        return None
    return PostRef(
        network=network,
        url=sighting.post_url,
        uri="" if sighting.kind == "repost" else sighting.key,
        handle=sighting.handle,
        author=sighting.author,
        sharer=sighting.reposter or sighting.handle,
    )


def _is_fediverse_handle(handle: str) -> bool:
    """@user@instance: a handle a Mastodon reply must mention to reach its author."""
    parts = handle.split("@")
    return len(parts) == 3 and not parts[0] and all(parts[1:])


def _answer_text(share: Share, values: dict[str, str], kind: str, native: bool) -> str:
    """The text of a reply or a quote: the comment, a mention where the network
    needs one, the post's link where the quote cannot be a real one."""
    post = share.post
    assert post is not None
    text = values["comment"]
    if share.answer == "reply" and kind == "mastodon":
        # Mastodon notifies mentioned accounts only: every client starts a reply
        # with the author's handle, so does veille (unless the comment has it).
        handle = clean_line(post.handle, strip_bom=True)
        if _is_fediverse_handle(handle) and handle.casefold() not in text.casefold():
            text = f"{handle} {text}".rstrip()
    if share.answer == "quote" and not native:
        text = text + "\n\n" + clean_line(post.url, strip_bom=True)
    if values["hashtags"]:
        text = text.rstrip() + "\n\n" + values["hashtags"]
    return _tidy(text)


def _values(share: Share) -> dict[str, str]:
    one = {
        "title": share.title,
        "link": share.link,
        "via": share.via,
        "source": share.source,
        "source_url": share.source_url,
        "author": share.author,
    }
    values = {k: clean_line(v, strip_bom=True) for k, v in one.items()}
    values["comment"] = clean_text(share.comment, strip_bom=True).strip("\n")
    values["hashtags"] = hashtag_line(share.hashtags)
    return values


def _tidy(text: str) -> str:
    """No trailing spaces, no leading/trailing blank lines, one blank line at most."""
    lines = [line.rstrip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    return "\n".join(out).strip("\n")


def render_text(
    share: Share,
    template: str = DEFAULT_TEMPLATE,
    *,
    kind: str = "mastodon",
    native: bool = True,
) -> str:
    """The post text for ``share``; hashtags are appended unless placed.

    A template line whose placeholders are all empty is dropped whole, so an
    item without a title leaves no hole.  Hashtags go in a paragraph of their
    own at the end, where Mastodon shows them as its hashtag bar.  ``kind``
    is the destination's kind: a plain share reads the same everywhere, a
    reply on Mastodon starts with the author's handle.  ``native``: the
    destination quotes the post for real (else its link ends the text).
    """
    values = _values(share)
    if share.answer in ("reply", "quote") and share.post is not None:
        return _answer_text(share, values, kind, native)
    placed_tags = False
    rendered: list[str] = []
    for line in (template or DEFAULT_TEMPLATE).replace("\r\n", "\n").split("\n"):
        had_field = False

        def fill(m: re.Match[str]) -> str:
            nonlocal had_field, placed_tags
            token = m.group(0)
            if token == "{{":
                return "{"
            if token == "}}":
                return "}"
            had_field = True
            if m.group(1) == "hashtags":
                placed_tags = True
            return values.get(m.group(1), "")

        out = _PLACEHOLDER.sub(fill, line)
        if had_field and not out.strip():
            continue
        rendered.append(out)
    text = "\n".join(rendered)
    if values["hashtags"] and not placed_tags:
        text = text.rstrip() + "\n\n" + values["hashtags"]
    return _tidy(text)


def quote_block(paragraph: str) -> str:
    """A paragraph as a '> ' quote, for quoting the item in the comment."""
    lines = clean_text(paragraph, strip_bom=True).strip("\n").split("\n")
    return "\n".join(f"> {line.rstrip()}" if line.strip() else ">" for line in lines)


def paragraphs_html(comment: str) -> str:
    """A comment as escaped HTML: blank-line paragraphs, "> " runs as blockquotes.

    Shared by the Atom feed and the digest so a comment reads the same in both."""
    parts: list[str] = []
    for para in re.split(r"\n\s*\n", comment.strip()):
        lines = [ln.rstrip() for ln in para.strip("\n").split("\n")]
        if not any(lines):
            continue
        if all(ln.startswith(">") for ln in lines):
            inner = "<br>".join(html.escape(ln[1:].lstrip()) for ln in lines)
            parts.append(f"<blockquote><p>{inner}</p></blockquote>")
        else:
            parts.append("<p>" + "<br>".join(html.escape(ln) for ln in lines) + "</p>")
    return "\n".join(parts)
