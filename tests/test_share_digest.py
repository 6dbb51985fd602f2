"""The "further reading" digest: period, grouping, order, escaping; parse_since."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest

from veille.domain.share import Share
from veille.share.digest import render_digest
from veille.util.dates import parse_since

SINCE = datetime(2026, 11, 20, tzinfo=UTC)
UNTIL = datetime(2026, 11, 28, tzinfo=UTC)


def share(n: int, created: str, **kw: object) -> Share:
    base: dict[str, object] = {
        "id": f"s{n}",
        "item_id": f"i{n}",
        "comment": f"Comment {n}.",
        "created": created,
        "title": f"Item {n}",
        "link": f"https://blog.example/{n}",
        "source": "Example Blog",
    }
    base.update(kw)
    return Share(**base)  # type: ignore[arg-type]


SHARES = [
    share(1, "2026-11-25T08:00:00Z"),
    share(2, "2026-11-27T09:00:00Z"),
    share(3, "2026-11-27T17:45:00Z"),
    share(4, "2026-11-01T12:00:00Z"),  # before the period
    share(5, "2026-12-02T12:00:00Z"),  # after it
]


def test_markdown_groups_days_newest_first() -> None:
    md = render_digest(SHARES, since=SINCE, until=UNTIL, fmt="md")
    assert md.startswith("# Further reading\n")
    assert "Item 4" not in md and "Item 5" not in md
    day27, day25 = md.index("## Friday 2026-11-27"), md.index("## Wednesday 2026-11-25")
    assert day27 < day25
    i3, i2, i1 = md.index("Item 3"), md.index("Item 2"), md.index("Item 1")
    assert day27 < i3 < i2 < day25 < i1
    assert "- **[Item 3](https://blog.example/3)** — Example Blog, 17:45" in md
    assert "  Comment 3." in md


def test_markdown_escapes_what_breaks_links() -> None:
    s = share(
        6,
        "2026-11-26T10:00:00Z",
        title="Arrays [a] *really* <b>",
        link="https://example.org/wiki/Foo_(bar) baz",
        comment="# not a heading\n<img src=x onerror=alert(1)> and [x] kept *emphasis*\n---",
    )
    md = render_digest([s], since=SINCE, until=UNTIL, fmt="md")
    assert r"[Arrays \[a\] \*really\* \<b\>](https://example.org/wiki/Foo_%28bar%29%20baz)" in md
    assert r"  \# not a heading" in md
    assert r"\<img src=x onerror=alert(1)>" in md
    assert r"\[x\]" in md and "*emphasis*" in md
    assert "  \\---" in md


def test_unsafe_links_not_linked() -> None:
    s = share(7, "2026-11-26T10:00:00Z", link="javascript:alert(1)")
    md = render_digest([s], since=SINCE, until=UNTIL, fmt="md")
    html = render_digest([s], since=SINCE, until=UNTIL, fmt="html")
    assert "javascript:" not in md and "javascript:" not in html
    assert "Item 7" in md and "Item 7" in html


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.hrefs += [v or "" for k, v in attrs if k == "href"]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_is_a_document_with_everything_escaped() -> None:
    evil = share(
        8,
        "2026-11-26T10:00:00Z",
        title='<script>alert("t")</script> & co',
        comment="I <3 this & <b>that</b>\n\n> quoted <i>",
        source="<img src=x>",
    )
    title = "Reads & <more>"
    page = render_digest([evil, *SHARES], since=SINCE, until=UNTIL, fmt="html", title=title)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    p = _Collect()
    p.feed(page)
    assert not {"script", "img", "b", "i"} & set(p.tags)
    text = "".join(p.text)
    assert '<script>alert("t")</script> & co' in text
    assert "I <3 this & <b>that</b>" in text
    assert "Reads & <more>" in text
    assert "blockquote" in p.tags
    assert p.hrefs == [
        "https://blog.example/3",
        "https://blog.example/2",
        "https://blog.example/8",
        "https://blog.example/1",
    ]


def test_days_follow_the_given_timezone() -> None:
    late = share(9, "2026-11-26T23:30:00Z")
    tokyo = timezone(timedelta(hours=9))
    md = render_digest([late], since=SINCE, until=UNTIL, fmt="md", tz=tokyo)
    assert "## Friday 2026-11-27" in md and "08:30" in md


def test_empty_period() -> None:
    md = render_digest(SHARES, since=datetime(2025, 1, 1), until=datetime(2025, 1, 8), fmt="md")
    assert "No shares from 2025-01-01 to 2025-01-08." in md
    page = render_digest([], since=SINCE, until=UNTIL, fmt="html")
    assert "No shares from 2026-11-20 to 2026-11-28." in page


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="md"):
        render_digest([], since=SINCE, until=UNTIL, fmt="pdf")  # type: ignore[arg-type]


NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", NOW - timedelta(days=7)),
        ("24h", NOW - timedelta(hours=24)),
        ("2w", NOW - timedelta(weeks=2)),
        ("30m", NOW - timedelta(minutes=30)),
        (" 3D ", NOW - timedelta(days=3)),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T10:00:00+02:00", datetime(2026, 11, 1, 8, tzinfo=UTC)),
    ],
)
def test_parse_since(text: str, expected: datetime) -> None:
    got = parse_since(text, now=NOW)
    assert got == expected and got.tzinfo is not None


@pytest.mark.parametrize("text", ["", "7", "d7", "7 days", "yesterday", "2026-13-01", "-3d"])
def test_parse_since_errors(text: str) -> None:
    with pytest.raises(ValueError, match=r"30m, 24h, 7d or 2w.*2026-11-01"):
        parse_since(text, now=NOW)


def test_parse_since_too_far_back() -> None:
    with pytest.raises(ValueError, match="before year 1"):
        parse_since("999999w", now=NOW)
