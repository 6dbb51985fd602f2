"""parse_feed on small inline documents: formats, identity, links, dates, errors, hygiene."""

from __future__ import annotations

import gzip
import hashlib
import json
import pickle
from concurrent.futures import ProcessPoolExecutor

import pytest

from veille.domain.entries import ParsedFeed
from veille.sources.feed.jsonfeed import parse_json_feed
from veille.sources.feed.parse import Engine, looks_like_html, parse_feed, parse_feed_with

FEED_URL = "https://example.com/blog/feed.xml"

RSS20 = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:media="http://search.yahoo.com/mrss/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
  <title>Example &amp; Co</title>
  <link>https://example.com/</link>
  <description>d</description>
  <ttl>90</ttl>
  <managingEditor>editor@example.com (The Editor)</managingEditor>
  <item>
    <title>First post</title>
    <link>https://example.com/1</link>
    <guid isPermaLink="false">post-1</guid>
    <pubDate>Tue, 03 Jun 2003 09:39:21 +0200</pubDate>
    <dc:creator>Ann Author</dc:creator>
    <category>news</category><category>tech</category><category>news</category>
    <description>Short &lt;b&gt;summary&lt;/b&gt;</description>
    <content:encoded><![CDATA[<p>Full <em>body</em></p><script>x()</script>]]></content:encoded>
    <enclosure url="https://cdn.example.com/ep1.mp3" type="audio/mpeg" length="1234"/>
    <media:thumbnail url="https://cdn.example.com/thumb.jpg"/>
  </item>
  <item>
    <title>Second</title>
    <link>/posts/2</link>
    <description>Only a description</description>
  </item>
</channel>
</rss>"""

ATOM10 = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title type="html">Atom &lt;i&gt;Feed&lt;/i&gt;</title>
  <link rel="alternate" href="https://example.org/"/>
  <link rel="self" href="https://example.org/atom.xml"/>
  <author><name>Feed Author</name></author>
  <id>urn:uuid:feed</id>
  <updated>2024-01-02T00:00:00Z</updated>
  <entry>
    <title>Entry one</title>
    <link rel="alternate" type="text/html" href="https://example.org/e1"/>
    <link rel="enclosure" type="image/png" href="https://example.org/e1.png"/>
    <id>tag:example.org,2024:e1</id>
    <published>2024-01-01T12:00:00-05:00</published>
    <updated>2024-01-02T08:30:00+01:00</updated>
    <summary>Plain summary</summary>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Rich</p></div></content>
    <category term="atom"/>
  </entry>
</feed>"""

RSS10 = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="http://example.net/rss">
    <title>RDF Site</title>
    <link>http://example.net/</link>
    <description>d</description>
    <items><rdf:Seq><rdf:li resource="http://example.net/a"/></rdf:Seq></items>
  </channel>
  <item rdf:about="http://example.net/a">
    <title>RDF item</title>
    <link>http://example.net/a</link>
    <dc:date>2002-09-30T11:00:00+01:00</dc:date>
    <dc:creator>Dee</dc:creator>
    <description>Hello RDF</description>
  </item>
</rdf:RDF>"""

JSON10 = {
    "version": "https://jsonfeed.org/version/1",
    "title": "JF 1.0",
    "home_page_url": "https://jf.example/",
    "author": {"name": "Old Style"},
    "items": [
        {
            "id": 42,
            "url": "https://jf.example/42",
            "title": "Numeric id",
            "content_text": "Line one\n\nLine two",
            "date_published": "2020-01-02T14:00:00-07:00",
            "tags": ["a", "b", 3],
            "image": "https://jf.example/42.png",
        },
        {
            "id": "",
            "external_url": "https://elsewhere.example/x",
            "content_html": "<p>Hello <b>world</b></p>",
            "summary": "Given summary",
        },
    ],
}

JSON11 = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "JF 1.1",
    "authors": [{"name": "Feed One"}, {"name": "Feed Two"}],
    "items": [
        {
            "id": "a",
            "url": "/relative/a",
            "title": "With authors",
            "content_html": "<p>x</p>",
            "date_modified": "2021-05-06T07:08:09Z",
            "authors": [{"name": "Item Author"}],
            "attachments": [
                {"url": "https://jf.example/a.mp3", "mime_type": "audio/mpeg", "size_in_bytes": 99},
                {"url": ""},
                "junk",
            ],
        },
        {"id": "b", "title": "Inherits feed authors", "content_text": "t"},
    ],
}


def _rss_items(items: str, channel_extra: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        f"<link>https://example.com/</link>{channel_extra}{items}</channel></rss>"
    ).encode()


# --- formats --------------------------------------------------------------------


def test_rss20() -> None:
    f = parse_feed(RSS20, FEED_URL)
    assert not f.error and not f.bozo
    assert (f.version, f.title, f.link, f.ttl_minutes) == (
        "rss20",
        "Example & Co",
        "https://example.com/",
        90,
    )
    assert len(f.entries) == 2
    e = f.entries[0]
    assert e.key == "post-1"
    assert e.title == "First post"
    assert e.link == "https://example.com/1"
    assert e.published == "2003-06-03T07:39:21Z"  # +0200 → UTC
    assert e.updated is None  # no fallback to published
    assert e.author == "Ann Author"
    assert e.categories == ["news", "tech"]
    assert e.content_type == "html"
    assert e.content.startswith("<p>Full <em>body</em></p>")  # kept, not sanitised
    assert e.summary == "Short summary"
    assert e.enclosures == [
        {"url": "https://cdn.example.com/ep1.mp3", "type": "audio/mpeg", "length": 1234}
    ]
    assert e.image == "https://cdn.example.com/thumb.jpg"
    second = f.entries[1]
    assert second.link == "https://example.com/posts/2"  # relative, resolved
    assert second.key == "https://example.com/posts/2"  # no guid → link
    assert second.content == "Only a description"  # no content → description
    assert second.summary == "Only a description"
    assert "The Editor" in second.author  # feed author as fallback


def test_atom10() -> None:
    f = parse_feed(ATOM10, "https://example.org/atom.xml")
    assert not f.error and not f.bozo
    assert (f.version, f.title, f.link) == ("atom10", "Atom Feed", "https://example.org/")
    (e,) = f.entries
    assert e.key == "tag:example.org,2024:e1"
    assert e.link == "https://example.org/e1"
    assert e.published == "2024-01-01T17:00:00Z"
    assert e.updated == "2024-01-02T07:30:00Z"
    assert e.author == "Feed Author"
    assert e.summary == "Plain summary"
    assert e.content_type == "html" and "<p>Rich</p>" in e.content
    assert e.categories == ["atom"]
    assert e.image == "https://example.org/e1.png"
    assert f.ttl_minutes is None


def test_rss10_rdf() -> None:
    f = parse_feed(RSS10, "http://example.net/rss")
    assert not f.error
    assert (f.version, f.title, f.link) == ("rss10", "RDF Site", "http://example.net/")
    (e,) = f.entries
    assert e.title == "RDF item"
    assert e.link == "http://example.net/a"
    assert e.key == "http://example.net/a"
    # <dc:date> is the item's only date: it is both when it was published and updated.
    assert (e.published, e.updated) == ("2002-09-30T10:00:00Z", "2002-09-30T10:00:00Z")
    assert e.author == "Dee"
    assert e.summary == "Hello RDF"


def test_json_feed_10() -> None:
    f = parse_feed(json.dumps(JSON10).encode(), "https://jf.example/feed.json")
    assert not f.error
    assert (f.version, f.title, f.link) == ("json10", "JF 1.0", "https://jf.example/")
    a, b = f.entries
    assert a.key == "42"
    assert (a.title, a.link) == ("Numeric id", "https://jf.example/42")
    assert a.published == "2020-01-02T21:00:00Z"
    assert a.content_type == "text" and a.content == "Line one\n\nLine two"
    assert a.summary == "Line one\n\nLine two"
    assert a.categories == ["a", "b"]
    assert a.image == "https://jf.example/42.png"
    assert a.author == "Old Style"
    assert b.link == "https://elsewhere.example/x"  # external_url when no url
    assert b.key == "https://elsewhere.example/x"  # empty id → link
    assert b.content_type == "html" and b.summary == "Given summary"


def test_json_feed_11_and_content_type_sniff() -> None:
    body = json.dumps(JSON11, indent=2).encode()
    f = parse_feed(b"\xef\xbb\xbf  \n" + body, "https://jf.example/sub/feed.json")
    assert not f.error and f.version == "json11"
    a, b = f.entries
    assert a.link == "https://jf.example/relative/a"
    assert a.updated == "2021-05-06T07:08:09Z"
    assert a.published == "2021-05-06T07:08:09Z"  # date_modified is its only date
    assert a.base == "https://jf.example/sub/feed.json"  # relative to the document
    assert a.author == "Item Author"
    assert a.enclosures == [{"url": "https://jf.example/a.mp3", "type": "audio/mpeg", "length": 99}]
    assert b.author == "Feed One, Feed Two"
    # Sniffed by content type too, and the JSON module can be called directly.
    g = parse_feed(body, "", {"Content-Type": "application/feed+json; charset=utf-8"})
    assert [e.key for e in g.entries] == ["a", "b"]
    assert parse_json_feed(body).title == "JF 1.1"


def test_json_feed_unknown_version_and_bad_types() -> None:
    f = parse_feed(b'{"version": "https://jsonfeed.org/version/9", "items": [{"id": "x"}]}')
    assert f.version == "json" and [e.key for e in f.entries] == ["x"]
    junk = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": ["no"],
        "items": [{"id": True, "title": 5, "url": 1.5, "tags": "x", "date_published": "nope"}],
    }
    g = parse_feed(json.dumps(junk).encode())
    assert not g.error and g.title == ""
    (e,) = g.entries
    assert e.title == "" and e.link == "" and e.published is None and e.categories == []
    assert e.key.startswith("h:")


# --- identity, links, dates, ttl --------------------------------------------------


def test_key_fallbacks() -> None:
    body = _rss_items(
        "<item><guid>g1</guid><link>https://example.com/a</link><title>A</title></item>"
        "<item><link>https://example.com/b</link><title>B</title></item>"
        "<item><title>C</title><pubDate>Mon, 01 Jan 2024 00:00:00 GMT</pubDate></item>"
        "<item><title>D</title></item>"
    )
    keys = [e.key for e in parse_feed(body, FEED_URL).entries]
    expect_c = "h:" + hashlib.sha1(b"C2024-01-01T00:00:00Z").hexdigest()[:16]
    expect_d = "h:" + hashlib.sha1(b"D").hexdigest()[:16]
    assert keys == ["g1", "https://example.com/b", expect_c, expect_d]
    # Stable across parses (the store relies on it).
    assert [e.key for e in parse_feed(body, FEED_URL).entries] == keys


def test_relative_links_and_unsafe_schemes() -> None:
    body = _rss_items(
        "<item><title>rel</title><link>../other/page.html</link></item>"
        "<item><title>js</title><link>javascript:alert(1)</link></item>"
        "<item><title>data</title><link>data:text/html,hi</link></item>"
        "<item><title>abs</title><link>http://plain.example/x</link></item>",
        channel_extra="",
    ).replace(b"<link>https://example.com/</link>", b"<link>/home</link>")
    f = parse_feed(body, "https://example.com/blog/feed.xml")
    assert f.link == "https://example.com/home"
    links = [e.link for e in f.entries]
    assert links == ["https://example.com/other/page.html", "", "", "http://plain.example/x"]
    # Without a feed URL a relative link cannot be made absolute: dropped, not kept relative.
    g = parse_feed(body)
    assert g.entries[0].link == ""


def test_atom_relative_links_use_xml_base() -> None:
    body = b"""<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://base.example/dir/">
      <title>t</title><entry><id>1</id><title>x</title><link href="post"/></entry></feed>"""
    (e,) = parse_feed(body, "https://other.example/feed").entries
    assert e.link == "https://base.example/dir/post"


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("Tue, 10 Jun 2003 04:00:00 GMT", "2003-06-10T04:00:00Z"),
        ("Tue, 10 Jun 2003 04:00:00 -0800", "2003-06-10T12:00:00Z"),
        ("2003-06-10T23:30:00+05:30", "2003-06-10T18:00:00Z"),
        ("Sat, 01 Jan 1910 00:00:00 GMT", None),  # before 1970
        ("Fri, 01 Jan 2999 00:00:00 GMT", None),  # far future
        ("not a date at all", None),
    ],
)
def test_dates_are_utc_and_sane(date: str, expected: str | None) -> None:
    body = _rss_items(f"<item><guid>x</guid><pubDate>{date}</pubDate></item>")
    (e,) = parse_feed(body, FEED_URL).entries
    assert e.published == expected


def test_ttl() -> None:
    assert parse_feed(_rss_items("", "<ttl> 60 </ttl>")).ttl_minutes == 60
    assert parse_feed(_rss_items("", "<ttl>soon</ttl>")).ttl_minutes is None
    assert parse_feed(_rss_items("", "<ttl>0</ttl>")).ttl_minutes is None
    assert parse_feed(_rss_items("")).ttl_minutes is None


def test_empty_feed_is_not_an_error() -> None:
    f = parse_feed(_rss_items(""), FEED_URL)
    assert not f.error and f.entries == [] and f.title == "T"


# --- ill-formed input and errors ------------------------------------------------------


def test_bozo_feed_still_yields_entries() -> None:
    body = _rss_items(
        "<item><title>Fish & Chips</title><guid>1</guid></item>"  # bare &
        "<item><title>Second<br></title><guid>2</guid></item>"  # unclosed tag
    )
    f = parse_feed(body, FEED_URL)
    assert not f.error
    assert f.bozo and f.bozo_reason
    assert "\n" not in f.bozo_reason
    assert [e.key for e in f.entries] == ["1", "2"]
    assert f.entries[0].title.startswith("Fish")
    # A truncated download keeps the entries that made it.
    cut = parse_feed(b"<feed><entry><id>1</id></entry><entry><id>2</id></entr", FEED_URL)
    assert not cut.error and cut.bozo
    assert [e.key for e in cut.entries] == ["1", "2"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"", "empty response"),
        (b" \r\n\t ", "empty response"),
        (b"\xef\xbb\xbf\n", "empty response"),
        (
            b"<!DOCTYPE html><html><head><title>Blog</title></head><body><p>hi</p></body></html>",
            "this is an HTML page, not a feed",
        ),
        (b"<html lang='en'><body>Not found</body></html>", "this is an HTML page, not a feed"),
    ],
)
def test_errors_exact(body: bytes, error: str) -> None:
    f = parse_feed(body, FEED_URL)
    assert f.error == error
    assert f.entries == []


@pytest.mark.parametrize(
    "body",
    [
        b"Hello, this is plain text and not XML at all.",
        b"<?xml version='1.0'?><note><to>x</to></note",
        b'<?xml version="1.0"?><rss version="2.0"><chan',  # truncated, nothing recovered
        b"{this is not json",
        b'{"version": "1", "name": "some API answer"}',
        b"[1, 2, 3]",
        b"/etc/passwd",  # feedparser would open() a bytes path: we pass a stream
    ],
)
def test_not_a_feed(body: bytes) -> None:
    f = parse_feed(body, FEED_URL)
    assert f.error.startswith("not a feed"), f.error
    assert "\n" not in f.error and len(f.error) < 300
    assert f.entries == []


def test_html_detection() -> None:
    assert looks_like_html(b"\xef\xbb\xbf  <!doctype HTML>\n<html>")
    assert looks_like_html(b'<?xml version="1.0"?>\n<html xmlns="http://www.w3.org/1999/xhtml">')
    assert not looks_like_html(RSS20)
    assert not looks_like_html(ATOM10)
    assert not looks_like_html(b"<rss><channel><description>&lt;html&gt;<html></html>")


# --- hygiene at ingest --------------------------------------------------------------


def test_control_chars_and_ansi_are_stripped() -> None:
    # Raw ESC is not even legal XML: the loose parser takes over and we must clean up.
    body = _rss_items(
        "<item><guid>1</guid><title>\x1b[31mRed\x1b[0m \x1b]0;owned\x07title\u202e</title>"
        "<author>\x1b]8;;http://x/\x1b\\Ann\x1b]8;;\x1b\\</author>"
        "<category>\x9b2Jcat</category>"
        "<description>sum\x07mary \x1b[5mblink</description></item>",
        channel_extra="",
    ).replace(b"<title>T</title>", b"<title>Feed\x1b[2J\x00</title>")
    f = parse_feed(body, FEED_URL)
    assert not f.error
    (e,) = f.entries
    assert f.title == "Feed"
    assert e.title == "Red title"
    assert e.author == "Ann"
    # feedparser's loose parser maps C1 bytes to their cp1252 glyphs; either way no control.
    (category,) = e.categories
    assert category.endswith("cat")
    assert not any("\x80" <= c <= "\x9f" or c == "\x1b" for c in category)
    assert e.summary == "summary blink"
    assert "\x1b" not in e.content and "\x07" not in e.content


def test_json_feed_control_chars_stripped() -> None:
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "J\u001b[1mSON\u0007",
        "items": [
            {"id": "1", "title": "a\u009b31mb\u202ec", "content_html": "<p>\u001b]0;x\u0007y</p>"}
        ],
    }
    f = parse_feed(json.dumps(doc).encode())
    assert f.title == "JSON"
    assert f.entries[0].title == "abc"
    assert f.entries[0].content == "<p>y</p>"


@pytest.mark.parametrize("engine", ["feedparser", "fast"])
def test_a_stray_links_element_does_not_fail_the_feed(engine: Engine) -> None:
    # feedparser stores the text of an unknown <links> where its list of links goes.
    body = _rss_items(
        "<item><guid>1</guid><links>https://a.example/</links></item>"
        '<item><guid>2</guid><enclosure url="https://a.example/2.mp3" type="audio/mpeg"/></item>'
    )
    f = parse_feed_with(body, FEED_URL, None, engine)
    assert f is not None and not f.error
    assert [e.key for e in f.entries] == ["1", "2"]
    assert f.entries[0].enclosures == []
    assert f.entries[1].enclosures[0]["url"] == "https://a.example/2.mp3"


def test_markup_in_titles_is_kept_literally() -> None:
    body = _rss_items("<item><guid>1</guid><title>[@click=app.quit]x[/] [b]y[/b]</title></item>")
    assert parse_feed(body).entries[0].title == "[@click=app.quit]x[/] [b]y[/b]"


# --- encodings ----------------------------------------------------------------------

_ENC_RSS = (
    '<?xml version="1.0" encoding="{decl}"?><rss version="2.0"><channel><title>Café</title>'
    "<item><guid>1</guid><title>Grüße à tous</title></item></channel></rss>"
)


@pytest.mark.parametrize(
    ("body_encoding", "declared", "content_type"),
    [
        ("latin-1", "utf-8", "text/xml; charset=utf-8"),  # latin-1 bytes, says utf-8
        ("latin-1", "utf-8", None),
        ("latin-1", "iso-8859-1", "application/rss+xml; charset=utf-8"),  # header lies
        ("utf-8", "iso-8859-1", "application/rss+xml; charset=iso-8859-1"),  # the reverse
        ("utf-8", "utf-8", "text/html; charset=utf-8"),  # wrong media type
        ("cp1252", "windows-1252", "text/plain"),
    ],
)
def test_mislabelled_encoding_still_gives_entries(
    body_encoding: str, declared: str, content_type: str | None
) -> None:
    body = _ENC_RSS.format(decl=declared).encode(body_encoding)
    headers = {"Content-Type": content_type} if content_type else None
    f = parse_feed(body, FEED_URL, headers)
    assert not f.error
    assert [e.key for e in f.entries] == ["1"]
    title = f.entries[0].title
    assert title.startswith("Gr") and title.endswith("tous")
    if body_encoding != "utf-8":  # decoded with a fallback, not to mojibake
        assert title == "Grüße à tous"


def test_http_charset_is_honoured() -> None:
    body = _ENC_RSS.format(decl="utf-8").replace('encoding="utf-8"', "").encode("iso-8859-1")
    f = parse_feed(body, FEED_URL, {"content-type": "application/xml; charset=iso-8859-1"})
    assert f.entries[0].title == "Grüße à tous"
    assert not f.bozo


# --- process pool -------------------------------------------------------------------


def test_picklable_and_runs_in_a_process_pool() -> None:
    assert pickle.loads(pickle.dumps(parse_feed)) is parse_feed
    with ProcessPoolExecutor(max_workers=1) as pool:
        results = list(pool.map(parse_feed, [RSS20, b""], [FEED_URL, ""]))
    assert isinstance(results[0], ParsedFeed)
    assert [e.key for e in results[0].entries] == ["post-1", "https://example.com/posts/2"]
    assert results[1].error == "empty response"
    assert pickle.loads(pickle.dumps(results[0])) == results[0]


# --- robustness ---------------------------------------------------------------------


def test_blank_lines_before_xml_declaration() -> None:
    f = parse_feed(b"\n\n  " + RSS20, FEED_URL)
    assert not f.error and not f.bozo  # the strict parser is used, not the loose fallback
    assert len(f.entries) == 2


def test_gzip_body_without_content_encoding() -> None:
    f = parse_feed(gzip.compress(ATOM10), FEED_URL)
    assert not f.error and f.entries[0].key == "tag:example.org,2024:e1"


def test_unsafe_content_location_is_ignored() -> None:
    body = _rss_items("<item><guid>1</guid><link>post</link></item>")
    f = parse_feed(body, FEED_URL, {"Content-Location": "javascript:alert(1)"})
    assert f.entries[0].link == "https://example.com/blog/post"
    g = parse_feed(body, FEED_URL, {"Content-Location": "/moved/feed.xml"})
    assert g.entries[0].link == "https://example.com/moved/post"
    assert g.entries[0].key == "1"  # a permalink guid is not rewritten against the URL


# --- dates as the feed says them (issue 7) ------------------------------------------
# Both XML engines must agree: each case runs through feedparser and the fast path.

ENGINES: list[Engine] = ["feedparser", "fast"]


def _parse_with(engine: Engine, body: bytes, url: str = FEED_URL) -> ParsedFeed:
    parsed = parse_feed_with(body, url, None, engine)
    assert parsed is not None, "the fast path declined a plain, well-formed feed"
    assert not parsed.error
    return parsed


def _atom(entries: str, feed_attrs: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<feed xmlns="http://www.w3.org/2005/Atom"{feed_attrs}><title>T</title>'
        "<id>urn:t</id><updated>2024-02-01T00:00:00Z</updated>"
        f"{entries}</feed>"
    ).encode()


@pytest.mark.parametrize("engine", ENGINES)
def test_atom_entry_dated_only_by_updated_is_published_then(engine: Engine) -> None:
    body = _atom(
        "<entry><id>1</id><title>a</title><updated>2024-01-05T10:00:00+02:00</updated></entry>"
    )
    (e,) = _parse_with(engine, body).entries
    assert e.published == "2024-01-05T08:00:00Z"
    assert e.updated == "2024-01-05T08:00:00Z"  # kept as its own field


@pytest.mark.parametrize("engine", ENGINES)
def test_published_wins_over_updated(engine: Engine) -> None:
    body = _atom(
        "<entry><id>1</id><title>a</title><updated>2024-01-05T10:00:00Z</updated>"
        "<published>2024-01-01T09:00:00Z</published></entry>"
    )
    (e,) = _parse_with(engine, body).entries
    assert (e.published, e.updated) == ("2024-01-01T09:00:00Z", "2024-01-05T10:00:00Z")


@pytest.mark.parametrize("engine", ENGINES)
def test_rss_item_with_dc_date_or_created_only(engine: Engine) -> None:
    body = _rss_items(
        "<item><guid>a</guid><dc:date>2023-03-04T05:06:07Z</dc:date></item>"
        "<item><guid>b</guid><dcterms:created>2023-03-01T00:00:00Z</dcterms:created></item>"
        "<item><guid>c</guid><title>undated</title></item>"
    ).replace(
        b'<rss version="2.0">',
        b'<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        b' xmlns:dcterms="http://purl.org/dc/terms/">',
    )
    a, b, c = _parse_with(engine, body).entries
    assert (a.published, a.updated) == ("2023-03-04T05:06:07Z", "2023-03-04T05:06:07Z")
    assert (b.published, b.updated) == ("2023-03-01T00:00:00Z", None)
    # No date in the entry: no date invented (not the fetch time); the app shows when
    # the item was seen instead.
    assert (c.published, c.updated) == (None, None)


@pytest.mark.parametrize("engine", ENGINES)
def test_date_fallback_keeps_hashed_keys(engine: Engine) -> None:
    """Entries without guid or link are keyed by title + date: that basis must not move."""
    body = _rss_items(
        "<item><title>Only created</title>"
        "<dcterms:created>2023-03-01T00:00:00Z</dcterms:created></item>"
    ).replace(
        b'<rss version="2.0">', b'<rss version="2.0" xmlns:dcterms="http://purl.org/dc/terms/">'
    )
    (e,) = _parse_with(engine, body).entries
    assert e.published == "2023-03-01T00:00:00Z"
    assert e.key == "h:" + hashlib.sha1(b"Only created").hexdigest()[:16]


# --- links and bodies resolve as xml:base says (issue 7) ---------------------------

# Modelled on Daring Fireball's Atom feed: the linked-list entries point elsewhere,
# and the body's relative links are relative to the xml:base on <content>.
DARING_FIREBALL = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
<title>Daring Fireball</title>
<subtitle>By John Gruber</subtitle>
<link rel="alternate" type="text/html" href="https://daringfireball.net/" />
<link rel="self" type="application/atom+xml" href="https://daringfireball.net/feeds/main" />
<id>tag:daringfireball.net,2002:/feeds/main</id>
<updated>2024-05-02T22:39:08Z</updated>
<entry>
  <link rel="alternate" type="text/html" href="https://www.example.com/some-article" />
  <link rel="shorturl" href="http://df4.us/xyz" />
  <link rel="related" type="text/html" href="https://daringfireball.net/linked/2024/05/02/a" />
  <id>tag:daringfireball.net,2024:/linked//6.40000</id>
  <published>2024-05-02T22:39:06Z</published>
  <updated>2024-05-02T22:39:08Z</updated>
  <author><name>John Gruber</name><uri>http://daringfireball.net/</uri></author>
  <title>Some Article</title>
  <content type="html" xml:base="https://daringfireball.net/" xml:lang="en"><![CDATA[
<p>Quoting <a href="/linked/2024/05/01/earlier">an earlier post</a>.</p>
<p><a title="Permanent link" href="/linked/2024/05/02/some-article">&nbsp;&#9733;&nbsp;</a></p>
]]></content>
</entry>
</feed>"""


@pytest.mark.parametrize("engine", ENGINES)
def test_daring_fireball_body_resolves_against_its_xml_base(engine: Engine) -> None:
    feed = _parse_with(engine, DARING_FIREBALL, "https://feeds.example.net/df/main")
    (e,) = feed.entries
    assert e.link == "https://www.example.com/some-article"  # the article, elsewhere
    assert e.base == "https://daringfireball.net/"  # not the link, not the feed URL
    assert '<a href="/linked/2024/05/01/earlier">' in e.content  # kept relative


def _atom_with_base(entry_attrs: str, feed_attrs: str = "") -> bytes:
    return _atom(
        f"<entry{entry_attrs}><id>tag:x,2024:1</id><title>t</title>"
        '<link href="post.html"/>'
        '<link rel="enclosure" type="audio/mpeg" length="12" href="audio/ep1.mp3"/>'
        '<media:thumbnail xmlns:media="http://search.yahoo.com/mrss/" url="img/thumb.jpg"/>'
        '<content type="html">&lt;img src="img/a.png"&gt;</content>'
        "</entry>",
        feed_attrs,
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_entry_xml_base_applies_to_link_enclosures_image_and_body(engine: Engine) -> None:
    body = _atom_with_base(' xml:base="https://example.org/blog/2024/"')
    (e,) = _parse_with(engine, body, "https://cdn.example.net/feed.atom").entries
    assert e.link == "https://example.org/blog/2024/post.html"
    assert e.enclosures == [
        {"url": "https://example.org/blog/2024/audio/ep1.mp3", "type": "audio/mpeg", "length": 12}
    ]
    assert e.image == "https://example.org/blog/2024/img/thumb.jpg"
    assert e.base == "https://example.org/blog/2024/"
    assert e.key == "tag:x,2024:1"  # an absolute id is not touched by the base


@pytest.mark.parametrize("engine", ENGINES)
def test_feed_level_relative_xml_base_joins_the_document_url(engine: Engine) -> None:
    body = _atom_with_base("", ' xml:base="/blog/"')
    (e,) = _parse_with(engine, body, "https://example.org/feeds/all.atom").entries
    assert e.base == "https://example.org/blog/"
    assert e.link == "https://example.org/blog/post.html"
    assert e.image == "https://example.org/blog/img/thumb.jpg"


@pytest.mark.parametrize("engine", ENGINES)
def test_rss_item_xml_base_applies_to_enclosure(engine: Engine) -> None:
    body = _rss_items(
        '<item xml:base="https://media.example/shows/"><guid>1</guid><link>ep1</link>'
        '<enclosure url="ep1.mp3" type="audio/mpeg" length="5"/>'
        "<description>&lt;a href='notes.html'&gt;notes&lt;/a&gt;</description></item>"
    )
    (e,) = _parse_with(engine, body).entries
    assert e.link == "https://media.example/shows/ep1"
    assert e.enclosures[0]["url"] == "https://media.example/shows/ep1.mp3"
    assert e.base == "https://media.example/shows/"


@pytest.mark.parametrize("engine", ENGINES)
def test_without_xml_base_the_document_url_is_the_base(engine: Engine) -> None:
    body = _atom_with_base("")
    (e,) = _parse_with(engine, body, "https://example.org/feeds/all.atom").entries
    assert e.base == "https://example.org/feeds/all.atom"
    assert e.image == "https://example.org/feeds/img/thumb.jpg"
    moved = {"Content-Location": "/b/c.atom"}
    g = parse_feed_with(body, "https://example.org/a.atom", moved, engine)
    assert g is not None and g.entries[0].base == "https://example.org/b/c.atom"


@pytest.mark.parametrize("engine", ENGINES)
def test_unsafe_xml_base_is_ignored(engine: Engine) -> None:
    body = _atom_with_base(' xml:base="javascript:alert(1)//"')
    (e,) = _parse_with(engine, body, "https://example.org/feed.atom").entries
    assert e.base == "https://example.org/feed.atom"
    assert e.image == "https://example.org/img/thumb.jpg"
