"""OPML import/export: unit cases, round trips, malformed input, and the real corpus."""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

from veille.subscriptions.opml import (
    OpmlError,
    OutlineFeed,
    parse_opml,
    read_opml,
    write_opml,
)

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
OPML = CORPUS / "opml"


def corpus_dir(name: str) -> Path:
    path = OPML / name
    if not path.is_dir():
        pytest.skip(f"corpus not present: {path}")
    return path


def by_url(feeds: list[OutlineFeed]) -> dict[str, OutlineFeed]:
    return {f.url: f for f in feeds}


# --- import ---------------------------------------------------------------------------------

OPML_1 = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<opml version="1.0">
  <head><title>My feeds</title></head>
  <body>
    <outline text="Caf\xe9 news" type="rss" xmlUrl="http://cafe.example/rss" htmlUrl="http://cafe.example/"/>
    <outline title="Only a title" type="rss" xmlURL="https://t.example/feed"/>
  </body>
</opml>
"""

OPML_2 = b"""<?xml version="1.0" encoding="UTF-8"?>
<!-- exported by some reader -->
<opml version="2.0" xmlns="http://opml.org/spec2">
  <head>
    <title>Nested</title>
    <dateCreated>Mon, 15 Jan 2024 09:45:30 GMT</dateCreated>
  </head>
  <body>
    <outline text="Tech">
      <outline text="Python">
        <outline text="PSF" type="rss" xmlUrl="https://psf.example/feed" category="/lang/py,news"/>
      </outline>
      <outline text="Ars" type="rss" xmlUrl="https://ars.example/feed"/>
    </outline>
    <outline text="Friends" title="ignored: text wins">
      <outline text="Ars again" type="rss" xmlUrl="https://ars.example/feed"/>
    </outline>
    <outline text="Top" type="rss" xmlUrl="https://top.example/feed"/>
    <outline text="Empty folder"/>
  </body>
</opml>
"""


def test_opml_1_with_declared_latin1() -> None:
    doc = read_opml(OPML_1)
    assert doc.title == "My feeds"
    assert [(f.url, f.title, f.site_url) for f in doc.feeds] == [
        ("http://cafe.example/rss", "Café news", "http://cafe.example/"),
        ("https://t.example/feed", "Only a title", ""),
    ]
    assert all(f.tags == [] for f in doc.feeds)


def test_opml_2_nested_folders_categories_and_duplicates() -> None:
    feeds = parse_opml(OPML_2)
    assert [f.url for f in feeds] == [
        "https://psf.example/feed",
        "https://ars.example/feed",
        "https://top.example/feed",
    ]
    f = by_url(feeds)
    # Each ancestor folder is a tag, then the category steps: "/lang/py,news".
    assert f["https://psf.example/feed"].tags == ["Tech", "Python", "lang", "py", "news"]
    # Same URL in two folders: one feed, both tags, the first title.
    assert f["https://ars.example/feed"].tags == ["Tech", "Friends"]
    assert f["https://ars.example/feed"].title == "Ars"
    assert f["https://top.example/feed"].tags == []


def test_feed_urls_are_cleaned_rewritten_or_skipped() -> None:
    data = b"""<opml version="2.0"><head/><body>
      <outline text="spaces" xmlUrl="  https://a.example/feed  "/>
      <outline text="feed scheme" xmlUrl="feed://b.example/rss"/>
      <outline text="feed https" xmlUrl="feed:https://c.example/rss"/>
      <outline text="pipe" xmlUrl="|~/bin/fetch.sh"/>
      <outline text="file" xmlUrl="file:///etc/passwd"/>
      <outline text="relative" xmlUrl="/feed.xml"/>
      <outline text="a list" type="source" xmlUrl="https://d.example/list.opml"/>
      <outline text="empty" type="rss" xmlUrl=""/>
    </body></opml>"""
    doc = read_opml(data)
    assert [f.url for f in doc.feeds] == [
        "https://a.example/feed",
        "http://b.example/rss",
        "https://c.example/rss",
    ]
    assert [(s.title, s.reason) for s in doc.skipped] == [
        ("pipe", "no http:// or https://"),
        ("file", "only http and https are supported, not file"),
        ("relative", "no http:// or https://"),
        ("a list", "a subscription list, not a feed"),
    ]


def test_untrusted_text_is_cleaned_to_one_line() -> None:
    data = (
        b'<opml version="2.0"><head/><body><outline text="Evil&#x1b;]8;;x&#x7;Link\n'
        b'  &#x202e;title  [b]markup[/b]" xmlUrl="https://e.example/f"'
        b' htmlUrl=" javascript:alert(1)"'
        b' category="ta&#x9b;31mg"/></body></opml>'
    )
    (feed,) = parse_opml(data)
    assert feed.title == "Evil]8;;xLink title [b]markup[/b]"
    assert feed.site_url == ""  # not http(s)
    assert feed.tags == ["tag"]


def test_html_entities_and_stray_ampersands_are_tolerated() -> None:
    data = b"""<?xml version="1.0"?>
<opml version="2.0"><head><title>Arch&aelig;ology &amp; more</title></head><body>
  <outline text="News & Views&nbsp;daily" xmlUrl="https://n.example/rss?a=1&b=2"/>
  <outline text="&unknownentity; stays" xmlUrl="https://u.example/rss"/>
</body></opml>"""
    doc = read_opml(data)
    assert doc.title == "Archæology & more"
    assert [(f.title, f.url) for f in doc.feeds] == [
        ("News & Views daily", "https://n.example/rss?a=1&b=2"),
        ("&unknownentity; stays", "https://u.example/rss"),
    ]


def test_html_pasted_into_attributes_is_repaired() -> None:
    # Seen in real lists: quotes and markup inside a description attribute.
    data = (
        b'<opml version="1.0"><head/><body>\n<outline text="Jen" description="By Jen "From'
        b' Head To Toe" on <a href="https://x.example/" target="_blank">x</a>. 5 < 6 & 7 > 3"'
        b' xmlUrl="https://jen.example/feed" type="rss" />\n'
        b'<outline text="Next" xmlUrl="https://next.example/feed"/>\n</body></opml>'
    )
    feeds = parse_opml(data)
    assert [(f.title, f.url) for f in feeds] == [
        ("Jen", "https://jen.example/feed"),
        ("Next", "https://next.example/feed"),
    ]


def test_utf16_and_encodings_expat_lacks() -> None:
    text = '<?xml version="1.0" encoding="{enc}"?><opml version="2.0"><head/><body>'
    text += '<outline text="日本のニュース" xmlUrl="https://jp.example/rss"/></body></opml>'
    for enc in ("UTF-16", "Shift_JIS", "EUC-JP"):
        data = text.format(enc=enc).encode(enc.lower().replace("_", "-"))
        if enc == "UTF-16":
            assert data.startswith((b"\xff\xfe", b"\xfe\xff"))
        (feed,) = parse_opml(data)
        assert feed.title == "日本のニュース", enc


# --- malformed ------------------------------------------------------------------------------

POSITION = re.compile(r"^invalid OPML at line (\d+), column (\d+): \S")


@pytest.mark.parametrize(
    ("data", "line", "reason"),
    [
        pytest.param(
            b'<opml version="2.0">\n<head/>\n<body>\n  <outline text="Tech">\n'
            b'    <outline text="a" xmlUrl="http://a.example/f"/>\n</body>\n</opml>\n',
            6,
            "mismatched tag",
            id="unclosed-outline",
        ),
        pytest.param(b"hello, I am not XML\n", 1, "syntax error", id="plain-text"),
        pytest.param(
            b'<opml version="2.0"><head/><body>\n<outline text="A & B" xmlUrl="http://a.example/"/>'
            b'\n<outline text="x">\n</body>\n</opml>\n',
            4,
            "mismatched tag",
            id="repairable-slip-then-structural-error",
        ),
        pytest.param(
            b'<opml version="2.0"><head/><body>\n<outline text="x"/>\n',
            3,
            "no element found",
            id="truncated",
        ),
        pytest.param(
            b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
            b' <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n'
            b' <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">\n]>\n'
            b'<opml version="2.0"><head><title>&lol3;</title></head><body/></opml>\n',
            3,
            "entity",
            id="billion-laughs",
        ),
        pytest.param(
            b'<?xml version="1.0"?>\n<!DOCTYPE opml [\n<!ENTITY xxe SYSTEM "file:///etc/passwd">\n'
            b']>\n<opml version="2.0"><head/><body><outline text="&xxe;" xmlUrl="http://a/"/>'
            b"</body></opml>",
            3,
            "entity",
            id="external-entity",
        ),
    ],
)
def test_malformed_xml_names_the_line(data: bytes, line: int, reason: str) -> None:
    with pytest.raises(OpmlError) as info:
        parse_opml(data)
    message = str(info.value)
    m = POSITION.match(message)
    assert m, message
    assert int(m[1]) == line == info.value.line
    assert int(m[2]) == info.value.column
    assert reason in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "empty"),
        (b"  \n ", "empty"),
        (b'<rss version="2.0"><channel/></rss>', "not an OPML file (root element is <rss>)"),
        (b"<html><head/><body/></html>", "not an OPML file (root element is <html>)"),
        (b'<opml version="1.0"><head><title>x</title></head></opml>', "no <body> element"),
    ],
)
def test_not_opml(data: bytes, expected: str) -> None:
    with pytest.raises(OpmlError, match=re.escape(expected)):
        parse_opml(data)


def test_deep_nesting_does_not_overflow() -> None:
    depth = 5000
    data = b'<opml version="2.0"><head/><body>' + b'<outline text="d">' * depth
    data += b'<outline text="deep" xmlUrl="https://deep.example/f"/>'
    data += b"</outline>" * depth + b"</body></opml>"
    (feed,) = parse_opml(data)
    assert feed.tags == ["d"]


def test_all_or_nothing_a_late_error_returns_no_feeds() -> None:
    good = b'<outline text="f" xmlUrl="http://a.example/%d"/>\n'
    data = b'<opml version="2.0"><head/><body>\n' + b"".join(good % i for i in range(500))
    data += b"<outline>\n</body></opml>\n"
    with pytest.raises(OpmlError) as info:
        parse_opml(data)
    assert info.value.line == 503


# --- export and round trip ------------------------------------------------------------------

ROUND_TRIP = [
    OutlineFeed("https://plain.example/feed", "Plain", "https://plain.example/"),
    OutlineFeed("https://one.example/rss?a=1&b=2", "One tag", "", ["news"]),
    OutlineFeed(
        "https://two.example/atom.xml",
        "Tom & Jerry <say> \"hi\" 'there'",
        "https://two.example/?x=<1>&y='2'",
        ["news", "Café society"],
    ),
    OutlineFeed("https://uni.example/f", "日本語 — Ελληνικά ✓", "", ["日本", "news"]),
    OutlineFeed("https://slash.example/f", "Slashes", "", ["a/b", "c,d", "plain", "e & f"]),
    OutlineFeed("https://three.example/f", "", "", ["x", "y", "z"]),
]


def test_write_then_parse_round_trips() -> None:
    text = write_opml(ROUND_TRIP, title="Mine & yours")
    doc = read_opml(text.encode("utf-8"))
    assert doc.title == "Mine & yours"
    assert not doc.skipped
    got = by_url(doc.feeds)
    assert list(got) == [f.url for f in ROUND_TRIP]
    for want in ROUND_TRIP:
        have = got[want.url]
        assert (have.title, have.site_url) == (want.title, want.site_url)
        assert sorted(have.tags) == sorted(want.tags), want.url
        if not any(c in t for t in want.tags for c in ",/"):
            assert have.tags == want.tags  # order kept too for plain tags


def test_written_opml_is_valid_opml_2() -> None:
    text = write_opml(ROUND_TRIP)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title") == "veille subscriptions"
    created = parsedate_to_datetime(root.findtext("head/dateCreated") or "")
    assert created.tzinfo is not None
    body = root.find("body")
    assert body is not None
    top = [o.get("text") for o in body]
    # Untagged feed at top level; one folder per first-tag, in order of first use.
    assert top == ["Plain", "news", "日本", "a/b", "c,d", "x"]
    news = body[1]
    assert [o.get("xmlUrl") for o in news] == [
        "https://one.example/rss?a=1&b=2",
        "https://two.example/atom.xml",
    ]
    assert news[1].get("category") == "/news,/Café society"
    for outline in root.iter("outline"):
        if outline.get("xmlUrl"):
            assert outline.get("type") == "rss"
            assert outline.get("text") is not None  # required by OPML 2.0


def test_write_drops_characters_xml_cannot_carry() -> None:
    text = write_opml(
        [OutlineFeed("https://c.example/f", "bell\x07 and nul\x00 \udc80", "", ["t\x1b"])]
    )
    (feed,) = parse_opml(text.encode())
    assert feed.title == "bell and nul"
    assert feed.tags == ["t"]


def test_bad_feed_urls_are_skipped_with_the_reason_not_an_internal_error() -> None:
    # `http://[::1/x` made urlsplit raise ValueError: `veille import` exited 70.
    data = b"""<opml version="2.0"><body>
      <outline text="v6" xmlUrl="http://[::1/x"/>
      <outline text="port" xmlUrl="http://a.example:99999/feed"/>
      <outline text="idn" xmlUrl="http://xn--a.example/feed"/>
      <outline text="bare" xmlUrl="b.example/feed"/>
      <outline text="ok" xmlUrl="HTTPS://C.Example/Feed" htmlUrl="http://[::1/"/>
    </body></opml>"""
    doc = read_opml(data)
    assert [(f.url, f.site_url) for f in doc.feeds] == [("https://c.example/Feed", "")]
    assert [(s.title, s.reason) for s in doc.skipped] == [
        ("v6", "unbalanced [ ] around an IPv6 address"),
        ("port", "port out of range 1-65535"),
        ("idn", "invalid host name: Codepoint U+0080 at position 1 of '\\x80' not allowed"),
        ("bare", "no http:// or https://"),
    ]


def test_import_of_a_bad_url_is_one_line_and_imports_the_rest(
    tmp_path: Path, cli_proc: Callable[..., Any]
) -> None:
    opml = tmp_path / "bad.opml"
    opml.write_bytes(
        b'<opml version="2.0"><body><outline text="x" xmlUrl="http://[::1/x"/>'
        b'<outline text="y" xmlUrl="https://y.example/feed"/></body></opml>'
    )
    r = cli_proc("import", str(opml))
    assert r.code == 0, r.err
    assert r.out.strip() == "imported 1 feed, 1 skipped. Run `veille refresh` to fetch them."
    assert r.err == "veille: skipped http://[::1/x: unbalanced [ ] around an IPv6 address\n"
    opml.write_bytes(b'<opml version="2.0"><body><outline xmlUrl="http://[::1/x"/></body></opml>')
    r = cli_proc("import", str(opml))
    assert r.code == 1 and "skipped http://[::1/x" in r.err


# --- corpus ---------------------------------------------------------------------------------


@pytest.mark.corpus
def test_awesome_rss_feeds_all_parse() -> None:
    """Real subscription lists, many of them not well-formed XML (bare &, quotes and
    HTML inside attributes): every one imports, with every xmlUrl it holds."""
    root = corpus_dir("awesome-rss-feeds")
    files = sorted(root.rglob("*.opml"))
    assert len(files) > 100
    total = 0
    for path in files:
        raw = path.read_bytes()
        feeds = parse_opml(raw)
        assert feeds, path
        declared = [
            html.unescape(u.decode()).strip() for u in re.findall(rb'xmlUrl="([^"]*)"', raw)
        ]
        assert [f.url for f in feeds] == list(dict.fromkeys(declared)), path
        if "with_category" in path.parts:
            assert all(f.tags for f in feeds), path
        else:
            assert all(not f.tags for f in feeds), path
        assert all("\n" not in f.title for f in feeds), path
        assert sum(1 for f in feeds if f.title) >= len(feeds) - 1, path
        total += len(feeds)
    assert total > 1000


# listparser's Eval lines describe its own richer model (meta, lists, opportunities,
# hierarchical categories). We check the lines that map to ours, translated:
# `[a, b] in categories` -> a and b are tags (we flatten a path into its steps).
LP_UNMAPPED = re.compile(
    r"\['(meta|lists|opportunities|version)'\]|len\(result\['feeds'\]\[0\]\['(tags|categories)'\]"
)
LP_CATEGORY = re.compile(
    r"^(\[.*\]) in result\['feeds'\]\[0\]\['categories'\]$"
    r"|^result\['feeds'\]\[0\]\['categories'\]\[0\] == (\[.*\])$"
)
# Where we legitimately differ from listparser, with the reason.
LP_EXPECT_ERROR = {
    "rdf/": "RDF/FOAF reading lists are not OPML: we do not import them",
    "unknown-namespace.xml": "not OPML",
    "malformed/concatenated-documents.xml": "two documents: all-or-nothing means refuse",
    "malformed/end-element-missing.xml": "truncated file: refuse rather than guess",
    "malformed/end-element-unexpected.xml": "structural error: refuse",
    "malformed/end-element-unexpected-with-prefix.xml": "structural error: refuse",
    "malformed/xmlns-without-value.xml": "no <body>: nothing to import",
}
LP_NO_BOZO = {
    "opml/head_dateCreated-invalid.xml": "we do not read head dates",
    "opml/head_dateModified-invalid.xml": "we do not read head dates",
}


def _listparser_evals(raw: bytes) -> list[str]:
    text = raw.decode("utf-8", errors="replace")
    return [e.strip().replace('"', "'") for e in re.findall(r"^\s*Eval:\s*(.+)$", text, re.M)]


@pytest.mark.corpus
def test_listparser_cases() -> None:
    root = corpus_dir("listparser")
    files = sorted(p for p in root.rglob("*.xml"))
    assert len(files) > 100
    checked = errors = 0
    for path in files:
        rel = path.relative_to(root).as_posix()
        raw = path.read_bytes()
        expect_error = next(
            (why for key, why in LP_EXPECT_ERROR.items() if rel.startswith(key)), ""
        )
        if expect_error:
            with pytest.raises(OpmlError):
                read_opml(raw)
            errors += 1
            continue
        evals = _listparser_evals(raw)
        assert evals, rel
        try:
            doc = read_opml(raw)
        except OpmlError as e:
            raise AssertionError(f"{rel}: {e}") from None
        feeds = [{"url": f.url, "title": f.title, "tags": f.tags} for f in doc.feeds]
        result = {"bozo": rel in LP_NO_BOZO, "feeds": feeds}
        for expr in evals:
            if LP_UNMAPPED.search(expr):
                continue
            if m := LP_CATEGORY.match(expr):
                steps = json.loads((m[1] or m[2]).replace("'", '"'))
                assert set(steps) <= set(feeds[0]["tags"]), f"{rel}: {expr}"
            else:
                assert eval(expr, {}, {"result": result}), f"{rel}: {expr}"
            checked += 1
    assert errors >= 30
    assert checked >= 130


def _walk_json(outlines: list[dict], tags: list[str], want: dict) -> None:
    """feedsmith's parsed outlines -> {xmlUrl: (title, htmlUrl, folder tags)}."""
    for o in outlines:
        if o.get("xmlUrl"):
            title = (o.get("text") or o.get("title") or "").strip()
            want.setdefault(o["xmlUrl"], (title, o.get("htmlUrl", ""), tags))
        else:
            label = (o.get("text") or o.get("title") or "").strip()
            _walk_json(o.get("outlines", []), [*tags, label] if label else tags, want)


@pytest.mark.corpus
def test_feedsmith_spec_examples_match_their_json() -> None:
    root = corpus_dir("feedsmith")
    pairs = sorted(root.glob("*.opml"))
    assert pairs
    for path in pairs:
        expected = json.loads(path.with_suffix(".json").read_text("utf-8"))
        want: dict[str, tuple[str, str, list[str]]] = {}

        _walk_json(expected["body"].get("outlines", []), [], want)
        doc = read_opml(path.read_bytes())
        assert doc.title == expected["head"].get("title", ""), path.name
        got = {f.url: (f.title, f.site_url, f.tags) for f in doc.feeds}
        assert got == want, path.name
    subs = parse_opml((root / "subscriptions.opml").read_bytes())
    assert len(subs) == 13


@pytest.mark.corpus
def test_newsboat_edge_cases() -> None:
    root = corpus_dir("newsboat")
    outcomes: dict[str, object] = {}
    for path in sorted(root.glob("*.opml")):
        try:
            outcomes[path.name] = read_opml(path.read_bytes())
        except OpmlError as e:  # any other exception fails the test
            assert "\n" not in str(e)
            outcomes[path.name] = str(e)
    assert "no <body>" in str(outcomes["body-element-missing.opml"])
    assert "root element is <not-opml>" in str(outcomes["opml-element-missing.opml"])
    example = by_url(outcomes["example.opml"].feeds)  # type: ignore[attr-defined]
    assert len(example) == 7
    assert example["https://blogs.example.com/~john/posts.rss"].tags == ["Blogs"]
    assert example["https://blogs.example.com/~mike/.rss"].tags == ["Blogs", "friends"]
    assert example["https://blogs.example.com/~mike/.rss"].title == "Notes by Mike"
    piped = outcomes["piped.opml"]
    assert [f.url for f in piped.feeds] == ["https://example.com/feed.atom"]  # type: ignore[attr-defined]
    assert [s.url for s in piped.skipped] == ["|~/fetch_tweets.py"]  # type: ignore[attr-defined]
    (cat,) = outcomes["category.opml"].feeds  # type: ignore[attr-defined]
    assert cat.tags == ["tag one", "tag_two", "tag", "three"]
    urls_plus = by_url(outcomes["test-urls+.opml"].feeds)  # type: ignore[attr-defined]
    assert urls_plus["http://test1.url.cc/feed.xml"].tags == ["tag1", "tag2"]
    assert urls_plus["http://onemorefeed.at/feed/"].tags == ["tag1", "tag3"]


# --- nested folders (issue 7) ---------------------------------------------------------------


def folder_paths(data: bytes) -> dict[str, tuple[str, ...]]:
    """xmlUrl -> the folders around its first outline, as another reader sees them."""
    root = ET.fromstring(data)
    out: dict[str, tuple[str, ...]] = {}

    def walk(node: ET.Element, path: tuple[str, ...]) -> None:
        for child in node:
            if not isinstance(child.tag, str) or child.tag.rsplit("}", 1)[-1] != "outline":
                continue
            attrs = {k.lower(): v for k, v in child.attrib.items()}
            url = (attrs.get("xmlurl") or "").strip()
            if url:
                out.setdefault(url, path)
                walk(child, path)
            else:
                label = (attrs.get("text") or attrs.get("title") or "").strip()
                walk(child, (*path, label) if label else path)

    body = next(c for c in root if c.tag.rsplit("}", 1)[-1] == "body")
    walk(body, ())
    return out


NESTED = b"""<?xml version="1.0"?>
<opml version="2.0"><head><title>t</title></head><body>
  <outline text="Blogs">
    <outline text="Apple">
      <outline text="Daring" xmlUrl="https://df.example/feed"/>
      <outline text="Six Colors" xmlUrl="https://six.example/feed"/>
    </outline>
    <outline text="Loose" xmlUrl="https://loose.example/feed"/>
  </outline>
  <outline text="News"><outline text="Daring" xmlUrl="https://df.example/feed"/></outline>
</body></opml>"""


def test_import_keeps_the_folder_path_and_export_nests_it_again() -> None:
    doc = read_opml(NESTED)
    got = by_url(doc.feeds)
    assert got["https://df.example/feed"].tags == ["Blogs", "Apple", "News"]
    assert got["https://df.example/feed"].folder == ["Blogs", "Apple"]
    assert got["https://loose.example/feed"].folder == ["Blogs"]
    text = write_opml(doc.feeds).encode()
    # Other readers see the nesting, not "Apple" at the top with a category.
    assert folder_paths(text) == {
        "https://df.example/feed": ("Blogs", "Apple"),
        "https://six.example/feed": ("Blogs", "Apple"),
        "https://loose.example/feed": ("Blogs",),
    }
    root = ET.fromstring(text)
    assert [o.get("text") for o in root.find("body") or ()] == ["Blogs"]
    daring = next(o for o in root.iter("outline") if o.get("xmlUrl") == "https://df.example/feed")
    assert daring.get("category") == "/Blogs/Apple,/News"
    again = by_url(read_opml(text).feeds)
    for url, f in got.items():
        assert (sorted(again[url].tags), again[url].folder) == (sorted(f.tags), f.folder), url


def test_export_follows_tags_removed_since_the_import() -> None:
    feed = OutlineFeed(
        "https://df.example/feed", "Daring", "", ["Blogs", "News"], ["Blogs", "Apple"]
    )
    assert folder_paths(write_opml([feed]).encode()) == {"https://df.example/feed": ("Blogs",)}
    feed.tags = ["Apple", "News"]  # no longer in Blogs: the path stops there
    assert folder_paths(write_opml([feed]).encode()) == {"https://df.example/feed": ("Apple",)}


NESTED_CORPUS = [
    "newsboat/example.opml",
    "newsboat/example2.opml",
    "newsboat/test-urls+.opml",
    "listparser/opml/categories/hier-2-nested.xml",
    "awesome-rss-feeds/recommended/with_category/Books.opml",
    "awesome-rss-feeds/countries/with_category/Germany.opml",
]


@pytest.mark.corpus
@pytest.mark.parametrize("name", NESTED_CORPUS)
def test_corpus_nested_folders_round_trip_through_the_store(name: str, tmp_path: Path) -> None:
    """import -> export -> import keeps feeds, tags and folders; the export puts each
    feed in the folders it sat in, for any reader that imports it."""
    from veille.store.store import Store
    from veille.subscriptions.subscribe import export_opml, import_opml

    path = OPML / name
    if not path.is_file():
        pytest.skip(f"corpus not present: {path}")
    original = folder_paths(path.read_bytes())
    with Store(tmp_path / "a") as a:
        import_opml(a, path)
        first = {f.url: (sorted(f.tags), f.folder) for f in a.feeds()}
        exported = export_opml(a)
    out = tmp_path / "out.opml"
    out.write_text(exported, encoding="utf-8")
    assert any(len(p) > (1 if "awesome" not in name else 0) for p in original.values())
    have = folder_paths(exported.encode())
    checked = [url for url in original if url in first]  # pipes and file: URLs are skipped
    assert len(checked) >= len(original) // 2
    for url in checked:
        assert have[url] == original[url], url
    with Store(tmp_path / "b") as b:
        import_opml(b, out)
        second = {f.url: (sorted(f.tags), f.folder) for f in b.feeds()}
    assert second == first
