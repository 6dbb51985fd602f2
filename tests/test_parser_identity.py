"""The fast XML path gives exactly what the feedparser path gives, or declines.

Every feed file of the corpus goes through ``parse_feed_with(engine="feedparser")``
and ``parse_feed_with(engine="fast")``; wherever the fast path accepts a
document, every ``ParsedFeed`` and ``ParsedEntry`` field (and the content hash
the refresh runner stores) must be equal.  The first difference fails the test
with the file, the entry, the field and both values.  A changed entry key would
resurface read items as new, a changed hash would mark them updated.

Each test also asserts that the fast path accepted a floor share of the
folder's XML feeds (measured on feedparser 6.0.14 and lowered ~10 points), so
a regression to "always decline" fails too.  The figures are printed (-s).
"""

from __future__ import annotations

import copy
import dataclasses
import gzip
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CORPUS
from veille.domain.entries import ParsedFeed
from veille.sources.feed.parse import parse_feed_with
from veille.store.ids import entry_hash

FEEDS = CORPUS / "feeds"
GEN_FEEDS = CORPUS.parent / "bench" / "gen_feeds.py"

pytestmark = pytest.mark.corpus

# Two ways a server hands a feed over: no headers at all (parse.py assumes
# application/xml), and text/xml without a charset (RFC 3023: us-ascii, so
# feedparser flags and re-decodes non-ASCII feeds) from a mirror location.
HEADER_SETS: list[dict[str, str] | None] = [
    None,
    {"Content-Type": "text/xml", "Content-Location": "https://mirror.example.net/x/feed.xml"},
]

# folder → (chunks, minimum share of its XML feeds the fast path must accept).
# Measured shares: feed-rs .86, feedjira .69, feedparser .49, feedsmith .62,
# feedvalidator .78, lemon24-reader 1.0, miniflux .81, newsboat .82,
# node-feedparser .79, podcastparser .74, rome .67, rss-parser .93.
FOLDERS: dict[str, tuple[int, float]] = {
    "feed-rs": (1, 0.75),
    "feedjira": (1, 0.55),
    "feedparser": (4, 0.35),
    "feedsmith": (1, 0.5),
    "feedvalidator": (4, 0.65),
    "jsonfeed-spec": (1, 0.0),  # JSON only: never the XML fast path
    "lemon24-reader": (1, 0.9),
    "miniflux": (1, 0.7),
    "newsboat": (1, 0.7),
    "node-feedparser": (1, 0.65),
    "podcastparser": (1, 0.6),
    "rome": (1, 0.55),
    "rss-parser": (1, 0.8),
}
PARAMS = [(folder, i) for folder, (n, _) in FOLDERS.items() for i in range(n)]


def _fields(feed: ParsedFeed) -> list[tuple[str, Any]]:
    """(path, value) for every field, entries included, plus each content hash."""
    out: list[tuple[str, Any]] = [
        (f.name, getattr(feed, f.name)) for f in dataclasses.fields(feed) if f.name != "entries"
    ]
    out.append(("len(entries)", len(feed.entries)))
    for i, e in enumerate(feed.entries):
        e.content_hash = entry_hash(e)  # what refresh.runner.parse_and_hash stores
        out += [(f"entries[{i}].{f.name}", getattr(e, f.name)) for f in dataclasses.fields(e)]
    return out


def first_difference(reference: ParsedFeed, fast: ParsedFeed) -> str:
    """'' when equal, else one readable line about the first differing field."""
    for (path, want), (_, have) in zip(_fields(reference), _fields(fast), strict=False):
        if want != have:
            return f"{path}: feedparser={want!r} fast={have!r}"
    return ""


def compare(body: bytes, url: str, headers: dict[str, str] | None, label: str) -> tuple[bool, bool]:
    """Fail on the first difference; (is an XML feed, the fast path accepted it)."""
    reference = parse_feed_with(body, url, copy.copy(headers), "feedparser")
    fast = parse_feed_with(body, url, copy.copy(headers), "fast")
    assert reference is not None
    is_xml_feed = not reference.error and not reference.version.startswith("json")
    if fast is None:
        return is_xml_feed, False
    if diff := first_difference(reference, fast):
        pytest.fail(f"{label} (headers {headers}): {diff}", pytrace=False)
    return is_xml_feed, True


@pytest.mark.parametrize(("folder", "chunk"), PARAMS, ids=[f"{f}-{i}" for f, i in PARAMS])
def test_fast_path_is_identical_on_the_corpus(folder: str, chunk: int) -> None:
    root = FEEDS / folder
    if not root.is_dir():
        pytest.skip(f"corpus not present: {root}")
    chunks, floor = FOLDERS[folder]
    files = sorted(p for p in root.rglob("*") if p.is_file())[chunk::chunks]
    xml_feeds = accepted = 0
    for path in files:
        rel = path.relative_to(FEEDS).as_posix()
        raw = path.read_bytes()
        # The fetcher hands over gunzipped bodies (Content-Encoding); a gzip body
        # without that header reaches parse.py as is, which gunzips it: try both.
        bodies = [gzip.decompress(raw), raw] if raw[:2] == b"\x1f\x8b" else [raw]
        for body in bodies:
            for headers in HEADER_SETS:
                url = f"https://example.com/{rel}"
                is_xml_feed, took = compare(body, url, headers, rel)
                xml_feeds += is_xml_feed
                accepted += took and is_xml_feed
    share = accepted / xml_feeds if xml_feeds else 0.0
    print(f"{folder}[{chunk}]: fast path took {accepted} of {xml_feeds} XML feeds ({share:.0%})")
    assert share >= floor, f"fast path accepted only {share:.0%} of {folder} (floor {floor:.0%})"


def test_every_corpus_folder_is_covered() -> None:
    """A new corpus folder must be added to FOLDERS (with its measured floor)."""
    if not FEEDS.is_dir():
        pytest.skip(f"corpus not present: {FEEDS}")
    present = {p.name for p in FEEDS.iterdir() if p.is_dir()}
    assert present <= set(FOLDERS), f"add to FOLDERS: {sorted(present - set(FOLDERS))}"


def test_fast_path_is_identical_on_generated_feeds(tmp_path: Path) -> None:
    """gen_feeds.py writes the benchmark's feeds: realistic RSS 2.0 and Atom 1.0."""
    if not GEN_FEEDS.is_file():
        pytest.skip(f"generator not present: {GEN_FEEDS}")
    out = tmp_path / "gen"
    subprocess.run([sys.executable, str(GEN_FEEDS), str(out), "12", "15"], check=True)
    files = sorted(out.glob("*.xml"))
    assert len(files) == 12
    for path in files:
        body = path.read_bytes()
        for headers in HEADER_SETS:
            assert compare(body, "https://example.org/feed.xml", headers, path.name)[1], (
                f"{path.name}: the fast path declined a plain generated feed"
            )


# --- feedparser quirks the fast path must reproduce, not fix ------------------------

_RSS_HEAD = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"'
    ' xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'
    ' xmlns:media="http://search.yahoo.com/mrss/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
    "<channel><title>T</title><link>https://example.com/</link>"
)


def _rss(items: str, channel: str = "") -> bytes:
    return (_RSS_HEAD + channel + items + "</channel></rss>").encode()


QUIRKS: dict[str, tuple[bytes, dict[str, str] | None]] = {
    # A description after itunes:summary becomes content (and leaves an open element).
    "itunes summary then description": (
        _rss(
            "<item><guid>1</guid><itunes:summary>Short</itunes:summary>"
            "<description>&lt;p&gt;Long &lt;b&gt;body&lt;/b&gt;&lt;/p&gt;</description></item>"
            "<item><guid>2</guid><title>Second</title><description>d</description></item>"
        ),
        None,
    ),
    "double-escaped ampersand in link": (
        _rss("<item><title>a</title><link>https://e.example/?a=1&amp;amp;b=2</link></item>"),
        None,
    ),
    # xml:base set under an element whose own base is empty is never restored.
    "xml:base leaking to the next entry": (
        (
            b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
            b'<entry><id>1</id><content type="html" xml:base="https://a.example/x/">'
            b'&lt;a href="p"&gt;p&lt;/a&gt;</content></entry>'
            b'<entry><id>2</id><link href="rel"/><summary>s</summary></entry></feed>'
        ),
        None,
    ),
    "itunes owner renames the feed author": (
        _rss(
            "<item><guid>1</guid><title>x</title></item>",
            "<itunes:author>Show</itunes:author><itunes:owner><itunes:name>Owner</itunes:name>"
            "<itunes:email>o@example.com</itunes:email></itunes:owner>",
        ),
        None,
    ),
    "relative atom id under xml:base, permalink guid false": (
        (
            b'<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://b.example/d/">'
            b"<title>t</title><entry><id>e1</id><title>x</title></entry></feed>"
        ),
        None,
    ),
    "guid not a permalink, two titles, media:title": (
        _rss(
            '<item><guid isPermaLink="false">rel/1</guid><title>First</title>'
            "<media:title>Media</media:title><title>Second</title></item>"
        ),
        None,
    ),
    "rss source element": (
        _rss(
            '<item><title>A</title><source url="https://src.example/rss">Src</source>'
            "<title>B</title><guid>g</guid></item>"
        ),
        None,
    ),
    "c1 controls and double-encoded utf-8": (
        _rss("<item><guid>1</guid><title>caf\u00c3\u00a9 &#x85; &#x93;q&#x94;</title></item>"),
        None,
    ),
    "html-looking rss title": (
        _rss("<item><guid>1</guid><title>A &lt;b&gt;bold&lt;/b&gt; &amp;amp; more</title></item>"),
        None,
    ),
    "prefix media bound to another namespace": (
        _rss(
            '<item><guid>1</guid><m:thumbnail xmlns:m="http://search.yahoo.com/mrss/"'
            ' url="https://i.example/1.jpg"/><media2:x xmlns:media2="urn:x">y</media2:x></item>'
        ).replace(b'xmlns:media="http://search.yahoo.com/mrss/"', b'xmlns:media="urn:other"'),
        None,
    ),
    "upper-case rel and type": (
        (
            b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><id>1</id>'
            b'<link rel="ALTERNATE" type="TEXT/HTML" href="https://e.example/1"/>'
            b'<link rel="Enclosure" type="Audio/MPEG" href="https://e.example/1.mp3"/>'
            b"</entry></feed>"
        ),
        None,
    ),
    "text/xml without charset, non-ascii body": (
        _rss("<item><guid>1</guid><title>Grüße</title></item>"),
        {"Content-Type": "text/xml"},
    ),
    "rss 1.0 items with rdf:about": (
        (
            b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
            b' xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            b'<channel rdf:about="https://e.example/"><title>t</title></channel>'
            b'<item rdf:about="https://e.example/1"><title>x</title>'
            b"<dc:date>2020-01-02T03:04:05Z</dc:date></item></rdf:RDF>"
        ),
        None,
    ),
    "unknown element named like a feedparser key": (
        _rss("<item><guid>1</guid><date_parsed>x</date_parsed><links>y</links></item>"),
        None,
    ),
}


@pytest.mark.parametrize("name", list(QUIRKS))
def test_fast_path_reproduces_feedparser_quirks(name: str) -> None:
    body, headers = QUIRKS[name]
    is_xml_feed, took = compare(body, "https://example.com/feed.xml", headers, name)
    assert is_xml_feed and took, f"{name}: the fast path declined it"


# --- what the fast path leaves to feedparser ------------------------------------------

_ATOM = '<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>{}</feed>'
FALLS_BACK: dict[str, tuple[bytes, str]] = {
    "atom xhtml content": (
        _ATOM.format(
            '<entry><id>1</id><content type="xhtml">'
            '<div xmlns="http://www.w3.org/1999/xhtml"><p>x</p></div></content></entry>'
        ).encode(),
        "xhtml",
    ),
    "unescaped html in rss": (
        _rss("<item><guid>1</guid><description>a <b>b</b></description></item>"),
        "markup inside a text construct",
    ),
    "base64 content": (
        _ATOM.format('<entry><id>1</id><content type="image/png">aGk=</content></entry>').encode(),
        "base64",
    ),
    "doctype": (
        b'<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"'
        b' "http://my.netscape.com/publish/formats/rss-0.91.dtd"><rss version="0.91">'
        b"<channel><title>t</title><item><title>x</title></item></channel></rss>",
        "DOCTYPE",
    ),
    "not well-formed": (_rss("<item><title>Fish & Chips</title></item>"), "not well-formed"),
    "atom 0.3": (
        b'<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>t</title>'
        b"<entry><id>1</id><title>x</title></entry></feed>",
        "version atom03",
    ),
    "not a feed": (b"<note><to>x</to></note>", "version unknown"),
}


@pytest.mark.parametrize("name", list(FALLS_BACK))
def test_shapes_the_fast_path_leaves_to_feedparser(name: str) -> None:
    from veille.sources.feed import fastparse

    body, reason = FALLS_BACK[name]
    result, why = fastparse.parse(body, {"content-type": "application/xml"})
    assert result is None and reason in why
    assert parse_feed_with(body, "https://example.com/f", None, "fast") is None
    auto = parse_feed_with(body, "https://example.com/f", None, "auto")
    assert auto == parse_feed_with(body, "https://example.com/f", None, "feedparser")


def test_the_fast_path_can_be_turned_off() -> None:
    """VEILLE_FAST_PARSE=0: everything goes through feedparser, with the same result."""
    code = (
        "from veille.sources.feed import fastparse; "
        "from veille.sources.feed.parse import parse_feed_with; "
        "body = b'<rss version=\"2.0\"><channel><item><guid>1</guid></item></channel></rss>'; "
        "print(fastparse.ENABLED, parse_feed_with(body, '', None, 'fast'), "
        "[e.key for e in parse_feed_with(body).entries])"
    )
    env = {**os.environ, "VEILLE_FAST_PARSE": "0"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "None", "['1']"]


# --- mutated real feeds: shapes the corpus does not have ---------------------------

_NS = {
    "dc": "http://purl.org/dc/elements/1.1/",
    "media": "http://search.yahoo.com/mrss/",
    "itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "atom": "http://www.w3.org/2005/Atom",
    "other": "http://other.example/ns",
}
_NAMES = (
    *("title", "link", "guid", "id", "description", "summary", "content", "author"),
    *("name", "email", "url", "category", "pubDate", "updated", "published", "source"),
    *("enclosure", "image", "comments", "subtitle", "links", "tags", "date_parsed"),
    *("dc:date", "dc:creator", "media:thumbnail", "media:content", "media:group"),
    *("itunes:image", "itunes:summary", "itunes:owner", "content:encoded", "other:link"),
)
_VALUES = (
    *("", " ", "http://e.example/a?x=1&y=2", "rel/path", "/abs", "yes"),
    *("Tue, 10 Jun 2003 04:00:00 GMT", "2003-06-10T04:00:00Z", "a &lt;b&gt;x&lt;/b&gt;"),
    *("café", "cafÃ©", "\x85x", "Name <e@x.example>", "e@x.example (N)"),
)
_ATTRS = (
    *("href", "url", "rel", "type", "term", "label", "scheme", "domain", "isPermaLink"),
    *("length", "medium", "text", "src", "mode", "base", "version"),
    "{http://www.w3.org/XML/1998/namespace}base",
    "{http://www.w3.org/XML/1998/namespace}lang",
    "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about",
)
_ATTR_VALUES = (
    *_VALUES,
    *("html", "text", "alternate", "enclosure", "self", "image/png", "false", "true"),
    *("https://b.example/dir/", "javascript:alert(1)"),
)


def _mutate(body: bytes, rnd: random.Random) -> bytes | None:
    """Add, move, copy and drop elements and attributes, declare odd prefixes."""
    from lxml import etree

    try:
        root = etree.fromstring(body, etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError:
        return None
    for _ in range(rnd.randint(1, 6)):
        elements = [e for e in root.iter() if isinstance(e.tag, str)]
        el = rnd.choice(elements)
        parent = el.getparent()
        op = rnd.random()
        if op < 0.3:
            el.set(rnd.choice(_ATTRS), rnd.choice(_ATTR_VALUES))
        elif op < 0.55:
            name = rnd.choice(_NAMES)
            if ":" in name:
                prefix, local = name.split(":")
                tag = f"{{{_NS[prefix]}}}{local}"
            else:
                tag = name
            child = etree.SubElement(el, tag)
            child.text = rnd.choice(_VALUES)
        elif op < 0.7:
            # A prefix bound to an unexpected namespace, or a default namespace switch.
            prefix = rnd.choice(["media", "dc", "atom", "x", None])
            uri = rnd.choice([*_NS.values(), "http://purl.org/rss/1.0/"])
            local = rnd.choice(["link", "title", "thumbnail", "creator", "date", "summary"])
            child = etree.SubElement(el, f"{{{uri}}}{local}", nsmap={prefix: uri})
            child.text = rnd.choice(_VALUES)
        elif op < 0.8 and parent is not None:
            parent.remove(el)
        elif op < 0.9 and parent is not None:
            parent.insert(rnd.randint(0, len(parent)), copy.deepcopy(el))
        else:
            el.text = rnd.choice(_VALUES)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def test_fast_path_is_identical_on_mutated_feeds() -> None:
    """Seeded mutations of real feeds: nesting, duplicates, xml:base, odd namespaces."""
    seeds = [
        FEEDS / name
        for name in (
            *("feed-rs/rss2/rss_2.0_bbc.xml", "feed-rs/atom/atom_mediarss_youtube_1.xml"),
            *("rss-parser/input/guardian.rss", "rss-parser/input/itunes-href.rss"),
            *("miniflux/parser/testdata/rdf_UTF8.xml", "miniflux/parser/testdata/small_atom.xml"),
            *("lemon24-reader/full.atom", "lemon24-reader/full.rss"),
        )
    ]
    seeds = [p for p in seeds if p.is_file()]
    if not seeds:
        pytest.skip(f"corpus not present: {FEEDS}")
    rnd = random.Random(20261202)
    accepted = 0
    for n in range(300):
        path = rnd.choice(seeds)
        body = _mutate(path.read_bytes(), rnd)
        if body is not None:
            accepted += compare(body, "https://example.com/feed", None, f"{path.name} #{n}")[1]
    print(f"mutated feeds: fast path took {accepted} of 300")
    assert accepted > 150
