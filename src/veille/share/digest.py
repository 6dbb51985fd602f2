"""A "further reading" page of the shares of a period, in Markdown or HTML.

Grouped by day, newest day first and newest item first within a day.  One
entry per item: an item shared twice in the period appears once, on the day of
its newest share, with every comment of the period under it in the order they
were written (each dated when there are several), so a follow-up reads as one.
Feed text is untrusted: HTML output escapes everything, Markdown output escapes
what would break the link syntax or inject raw HTML, and only web links
(http, https) are ever made clickable.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, tzinfo
from itertools import groupby
from typing import Literal

from veille.domain.share import Share
from veille.render.hygiene import clean_line, clean_text
from veille.share.compose import paragraphs_html
from veille.util.dates import parse_iso
from veille.util.urls import resolve_link

_MD_TITLE = re.compile(r"([\\`*_\[\]<>!|])")
_MD_LINE_START = re.compile(r"^(\s*)(#|[-=*_]{3,}\s*$)", re.MULTILINE)


_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _day(d: date) -> str:
    """ "Friday 2026-11-27", in English whatever the process locale."""
    return f"{_DAYS[d.weekday()]} {d:%Y-%m-%d}"


def _aware(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


def _when(share: Share) -> datetime | None:
    return parse_iso(share.created)


def _web_url(url: str) -> str:
    return resolve_link(clean_line(url, strip_bom=True))


Entry = tuple[datetime, Share, list[tuple[datetime, Share]]]


def _in_period(shares: list[Share], since: datetime, until: datetime, tz: tzinfo) -> list[Entry]:
    """One (newest time, newest share, [(time, share) oldest first]) per item, newest first."""
    since, until = _aware(since), _aware(until)
    picked = [(t.astimezone(tz), s) for s in shares if (t := _when(s)) and since <= t <= until]
    picked.sort(key=lambda p: p[0], reverse=True)
    by_item: dict[str, list[tuple[datetime, Share]]] = {}
    for when, share in picked:
        by_item.setdefault(share.item_id or share.link or share.id, []).append((when, share))
    return [(group[0][0], group[0][1], group[::-1]) for group in by_item.values()]


def _md_text(text: str) -> str:
    return _MD_TITLE.sub(r"\\\1", clean_line(text, strip_bom=True))


def _md_url(url: str) -> str:
    """A URL that cannot end the (...) of a link early."""
    return (
        url.replace(" ", "%20")
        .replace("(", "%28")
        .replace(")", "%29")
        .replace("<", "%3C")
        .replace(">", "%3E")
    )


def _md_comment(comment: str) -> list[str]:
    """The comment's lines; '> ' quotes and emphasis kept, raw HTML and
    line starts that would make headings or rules escaped."""
    text = clean_text(comment, strip_bom=True).strip("\n")
    text = text.replace("\\", "\\\\").replace("<", "\\<").replace("[", "\\[").replace("]", "\\]")
    text = _MD_LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)
    lines = [ln.rstrip() for ln in text.split("\n")]
    out: list[str] = []
    for ln in lines:
        if ln or (out and out[-1]):
            out.append(ln)
    return out


def _span(since: datetime, until: datetime, tz: tzinfo) -> str:
    a, b = _aware(since).astimezone(tz), _aware(until).astimezone(tz)
    return f"{a:%Y-%m-%d} to {b:%Y-%m-%d}"


def _meta(share: Share, when: datetime) -> str:
    source = clean_line(share.source or share.author, strip_bom=True)
    return f"{source}, {when:%H:%M}" if source else f"{when:%H:%M}"


def _stamp(when: datetime) -> str:
    return f"{when:%Y-%m-%d %H:%M}"


def _markdown(picked: list[Entry], title: str, span: str) -> str:
    out = [f"# {_md_text(title)}", "", f"*{span}*", ""]
    if not picked:
        out += [f"No shares from {span}.", ""]
    for day, group in groupby(picked, key=lambda p: p[0].date()):
        out += [f"## {_day(day)}", ""]
        for when, share, comments in group:
            name = _md_text(share.title) or _md_text(share.link) or "Untitled"
            url = _web_url(share.link)
            head = f"[{name}]({_md_url(url)})" if url else name
            out.append(f"- **{head}** — {_md_text(_meta(share, when))}")
            for at, one in comments:
                comment = _md_comment(one.comment)
                if not comment:
                    continue
                out.append("")
                if len(comments) > 1:
                    out += [f"  *{_stamp(at)}*", ""]
                out += [f"  {ln}" if ln else "" for ln in comment]
            out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _html_comment(comment: str) -> str:
    return paragraphs_html(clean_text(comment, strip_bom=True))


_CSS = (
    "body{max-width:42rem;margin:2rem auto;padding:0 1rem;font:1rem/1.5 system-ui,sans-serif}"
    "h2{margin-top:2rem;border-bottom:1px solid #ccc}.meta{color:#666;margin:0}"
    "blockquote{border-left:3px solid #ccc;margin-left:0;padding-left:1rem;color:#444}"
)


def _html(picked: list[Entry], title: str, span: str) -> str:
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(clean_line(title, strip_bom=True))}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{e(clean_line(title, strip_bom=True))}</h1>",
        f'<p class="period">{e(span)}</p>',
    ]
    if not picked:
        out.append(f'<p class="empty">No shares from {e(span)}.</p>')
    for day, group in groupby(picked, key=lambda p: p[0].date()):
        out += ["<section>", f'<h2><time datetime="{day:%Y-%m-%d}">{_day(day)}</time></h2>']
        for when, share, comments in group:
            name = e(clean_line(share.title or share.link, strip_bom=True)) or "Untitled"
            url = _web_url(share.link)
            head = f'<a href="{e(url)}">{name}</a>' if url else name
            out += [
                "<article>",
                f"<h3>{head}</h3>",
                f'<p class="meta">{e(_meta(share, when))}</p>',
            ]
            for at, one in comments:
                comment = _html_comment(one.comment)
                if not comment:
                    continue
                if len(comments) > 1:
                    stamp = f'<p class="when"><time>{e(_stamp(at))}</time></p>'
                    comment = stamp + "\n" + comment
                out.append(f'<div class="comment">{comment}</div>')
            out.append("</article>")
        out.append("</section>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def render_digest(
    shares: list[Share],
    *,
    since: datetime,
    until: datetime,
    fmt: Literal["md", "html"],
    title: str = "Further reading",
    tz: tzinfo = UTC,
) -> str:
    """The page for the shares created in [since, until]; days are taken in ``tz``.

    Naive datetimes are taken as UTC.
    """
    picked = _in_period(shares, since, until, tz)
    span = _span(since, until, tz)
    if fmt == "md":
        return _markdown(picked, title, span)
    if fmt == "html":
        return _html(picked, title, span)
    raise ValueError(f"unknown digest format {fmt!r}: use 'md' or 'html'")
