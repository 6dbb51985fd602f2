"""HTML/plain rendering for the item pane: layout, link numbering, safety, offsets."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.style import Style
from rich.text import Text

from veille.render.html import Link, link_list, render_html, render_plain

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
BASE = "https://example.com/blog/post.html"


def style_of(text: Text, needle: str, occurrence: int = 0) -> Style:
    """The combined style of the first character of ``needle`` in ``text``."""
    at = -1
    for _ in range(occurrence + 1):
        at = text.plain.index(needle, at + 1)
    return Style.combine([Style(), *(sp.style for sp in text.spans if sp.start <= at < sp.end)])


def plain(html: str, **kw: object) -> str:
    return render_html(html, BASE, **kw).text.plain  # type: ignore[arg-type]


# --- layout -------------------------------------------------------------------


def test_headings_are_bold_with_blank_lines_around() -> None:
    r = render_html("intro<h1>Big</h1>body<h3>Small</h3><p>end</p>")
    assert r.text.plain == "intro\n\nBig\n\nbody\n\nSmall\n\nend"
    big = style_of(r.text, "Big")
    assert big.bold and big.underline
    small = style_of(r.text, "Small")
    assert small.bold and not small.underline
    assert not style_of(r.text, "body").bold


def test_paragraphs_one_blank_line_and_whitespace_collapsed() -> None:
    html = "\n\n<p>  a   lot\n of\tspace </p><p></p><p>&nbsp;</p>"
    html += "<div><div><p>next</p></div></div>\n"
    assert plain(html) == "a lot of space\n\nnext"


def test_br_breaks_lines_and_runs_of_br_give_one_blank_line() -> None:
    assert plain("<p>one<br>two<br/><br><br><br>three</p>") == "one\ntwo\n\nthree"


def test_nested_lists_are_indented_with_markers() -> None:
    html = """
    <p>Before</p>
    <ul>
      <li>one</li>
      <li>two
        <ol><li>first</li><li>second<ul><li>deep</li></ul></li></ol>
      </li>
      <li><p>para a</p><p>para b</p></li>
    </ul>
    <p>After</p>"""
    assert plain(html).split("\n") == [
        "Before",
        "",
        "• one",
        "• two",
        "  1. first",
        "  2. second",
        "     • deep",
        "• para a",
        "  para b",
        "",
        "After",
    ]


def test_ordered_list_start_and_unclosed_items() -> None:
    assert plain('<ol start="9"><li>nine<li>ten<li>eleven</ol>') == "9. nine\n10. ten\n11. eleven"


def test_blockquote_prefixes_every_source_line_and_is_italic() -> None:
    r = render_html(
        "<p>He said:</p><blockquote><p>line one<br>line two</p><p>again</p></blockquote><p>ok</p>"
    )
    assert r.text.plain == "He said:\n\n│ line one\n│ line two\n│\n│ again\n\nok"
    assert style_of(r.text, "line two").italic
    assert style_of(r.text, "│").dim
    assert not style_of(r.text, "ok").italic


def test_nested_blockquotes() -> None:
    assert plain("<blockquote>a<blockquote>b</blockquote>c</blockquote>") == (
        "│ a\n│\n│ │ b\n│\n│ c"
    )


def test_pre_keeps_whitespace_exactly_and_code_is_styled() -> None:
    html = "<p>Run <code>make   all</code> then:</p>"
    html += "<pre>\ndef f():\n    return  1\n\n\n  x = 2\n</pre>"
    r = render_html(html)
    assert r.text.plain == "Run make all then:\n\ndef f():\n    return  1\n\n\n  x = 2"
    code = style_of(r.text, "make")
    assert code.color is not None
    assert style_of(r.text, "return").color == code.color
    assert style_of(r.text, "Run").color is None


def test_pre_expands_tabs_and_keeps_inner_markup_text() -> None:
    r = render_html("<pre>a\tb\n\tc <b>bold</b>&lt;tag&gt;</pre>")
    assert r.text.plain == "a       b\n        c bold<tag>"
    assert style_of(r.text, "bold").bold


def test_small_table_is_aligned_in_columns() -> None:
    html = """<table>
      <thead><tr><th>Name</th><th>Qty</th></tr></thead>
      <tbody><tr><td>apple</td><td>1</td></tr><tr><td>watermelon</td><td>12</td></tr></tbody>
    </table>"""
    r = render_html(html)
    assert r.text.plain.split("\n") == [
        "Name        Qty",
        "──────────  ───",
        "apple       1",
        "watermelon  12",
    ]
    assert style_of(r.text, "Name").bold
    assert not style_of(r.text, "apple").bold


def test_wide_table_falls_back_to_pipe_rows() -> None:
    long = "word " * 12
    html = f"<table><tr><td>{long}</td><td>{long}</td></tr><tr><td>x</td><td>y</td></tr></table>"
    lines = plain(html, width_hint=60).split("\n")
    assert lines == [f"{long.strip()} | {long.strip()}", "x | y"]
    # the same table fits a wide screen
    assert plain(html, width_hint=200).split("\n")[1].startswith("x ")


def test_nested_table_is_flattened_into_its_cell() -> None:
    inner = "<table><tr><td>in1</td><td>in2</td></tr></table>"
    html = f"<table><tr><td>a{inner}</td><td>b</td></tr></table>"
    assert plain(html) == "a in1 in2  b"


def test_hr_and_inline_styles() -> None:
    r = render_html(
        "<p><em>it</em> <strong>bo</strong> <del>gone</del> <s>old</s> x<sup>2</sup> H<sub>2</sub>O"
        " E=mc<sup>two</sup></p><hr><p>after</p>",
        width_hint=30,
    )
    assert r.text.plain == "it bo gone old x² H₂O E=mc^two\n\n" + "─" * 30 + "\n\nafter"
    assert style_of(r.text, "it").italic
    assert style_of(r.text, "bo").bold
    assert style_of(r.text, "gone").strike
    assert style_of(r.text, "old").strike
    assert not style_of(r.text, "after").strike


def test_definition_lists() -> None:
    assert plain("<dl><dt>Term</dt><dd>Meaning</dd><dt>Other</dt><dd>More</dd></dl><p>x</p>") == (
        "Term\n    Meaning\nOther\n    More\n\nx"
    )


# --- links ----------------------------------------------------------------------


def test_links_are_numbered_deduplicated_and_resolved() -> None:
    html = (
        '<p>See <a href="/about">about</a>, <a href="other.html">other</a>,'
        ' <a href="https://example.com/about">again</a> and <a href="../up">up</a>.</p>'
    )
    r = render_html(html, BASE)
    assert r.text.plain == "See about[1], other[2], again[1] and up[3]."
    assert r.links == [
        Link(1, "https://example.com/about", "about"),
        Link(2, "https://example.com/blog/other.html", "other"),
        Link(3, "https://example.com/up", "up"),
    ]
    assert style_of(r.text, "[1]").dim
    assert style_of(r.text, "about").underline


def test_relative_links_without_base_are_not_openable() -> None:
    r = render_html('<a href="/x">rel</a> <a href="https://a.example/">abs</a>')
    assert r.text.plain == "rel abs[1]"
    assert [link.url for link in r.links] == ["https://a.example/"]


def test_images_are_numbered_links_of_kind_image() -> None:
    html = (
        '<p><img src="cat.png" alt="A cat"> and <a href="https://x.example/">link</a>'
        ' <img src="https://cdn.example/i.jpg"><img src="cat.png" alt="again"></p>'
    )
    r = render_html(html, BASE)
    assert r.text.plain == "[img 1: A cat] and link[2] [img 3][img 1: again]"
    assert r.links[0] == Link(1, "https://example.com/blog/cat.png", "A cat", "image")
    assert r.links[2].kind == "image"
    assert r.links[1].kind == "link"


def test_lazy_images_tracking_pixels_and_data_uris() -> None:
    html = (
        '<img src="data:image/gif;base64,R0lGOD" data-src="/real.jpg" alt="lazy">'
        '<img src="https://t.example/p.gif" width="1" height="1">'
        '<img src="data:image/png;base64,xxx" alt="inline">'
    )
    r = render_html(html, BASE)
    assert r.text.plain == "[img 1: lazy][img: inline]"
    assert [link.url for link in r.links] == ["https://example.com/real.jpg"]


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        " JaVaScRiPt:alert(1)",
        "java\nscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:x",
        "file:///etc/passwd",
        "#footnote-1",
        "http://[::1",
    ],
)
def test_unsafe_or_local_hrefs_show_text_only(href: str) -> None:
    r = render_html(f'<a href="{href}">click me</a>', BASE)
    assert r.text.plain == "click me"
    assert r.links == []


def test_only_http_https_mailto_are_kept() -> None:
    html = (
        '<a href="mailto:me@example.com">mail</a> <a href="ftp://f.example/x">ftp</a>'
        ' <a href="//cdn.example/x">proto</a>'
    )
    r = render_html(html, BASE)
    assert [link.url for link in r.links] == ["mailto:me@example.com", "https://cdn.example/x"]
    assert r.text.plain == "mail[1] ftp proto[2]"


def test_iframe_becomes_a_numbered_link_and_its_content_is_dropped() -> None:
    html = (
        '<p>Watch:</p><iframe src="https://video.example/embed/1">fallback text</iframe>'
        '<iframe src="javascript:x"></iframe><p>done</p>'
    )
    r = render_html(html, BASE)
    assert r.text.plain == "Watch:\n\n[iframe 1][iframe]\n\ndone"
    assert r.links == [Link(1, "https://video.example/embed/1", "iframe")]


def test_link_around_block_content_and_image() -> None:
    r = render_html('<a href="https://x.example/"><img src="https://x.example/t.jpg" alt="t"></a>')
    assert r.text.plain == "[img 2: t][1]"
    r = render_html('<a href="https://x.example/"><h2>Title</h2><p>teaser</p></a>')
    assert r.text.plain == "Title[1]\n\nteaser[1]"
    # the number sticks to the anchor text, not to the space after it
    assert render_html('<a href="https://x.example/">foo </a>bar').text.plain == "foo[1] bar"
    # footnote references: in-page anchor, superscript digits
    assert render_html('note<sup><a href="#fn1">1</a></sup>.').text.plain == "note¹."


def test_link_list_footer() -> None:
    r = render_html('<a href="https://a.example/">a</a><img src="https://b.example/i.png">')
    footer = link_list(r.links)
    assert footer.plain == "Links:\n[1] https://a.example/\n[2] https://b.example/i.png (image)"
    assert link_list([]).plain == ""


# --- safety ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    ["[@click=app.quit]x[/]", "[bold red]x", "[link=https://evil.example]y[/link]", ":smile: [b]"],
)
def test_markup_looking_text_stays_literal(body: str) -> None:
    r = render_html(f"<p>{body}</p><pre>{body}</pre><a href='https://a.example/'>{body}</a>")
    assert r.text.plain == f"{body}\n\n{body}\n\n{body}[1]"
    assert r.links[0].text == body
    p = render_plain(body)
    assert p.text.plain.replace("[1]", "") == body


def test_escape_sequences_and_controls_are_stripped() -> None:
    esc = "\x1b[31mred\x1b[0m \x1b]8;;https://evil.example\x1b\\osc\x1b]8;;\x1b\\ bell\x07"
    r = render_html(
        f"<p>{esc}</p><pre>{esc}</pre><img src='https://i.example/\x1b[2Jx.png' alt='\x1b[1mA'>"
    )
    assert "\x1b" not in r.text.plain
    assert "\x07" not in r.text.plain
    assert r.text.plain.startswith("red osc bell\n\nred osc bell")
    assert all("\x1b" not in link.url and "\x1b" not in link.text for link in r.links)
    assert "\x1b" not in render_plain(esc).text.plain


def test_entities_are_decoded() -> None:
    r = render_html("<p>&lt;b&gt; &amp;amp; &eacute;t&eacute; &#8212; &#x2014; &hellip; &copy</p>")
    assert r.text.plain == "<b> &amp; été — — … ©"


def test_scripts_styles_head_comments_are_dropped() -> None:
    html = (
        "<html><head><title>T</title><style>p{color:red}</style></head><body>"
        "<script>document.write('x')</script><!-- secret --><p>visible</p>"
        "<svg><text>svgtext</text></svg><template>tpl</template></body></html>"
    )
    assert plain(html) == "visible"


def test_broken_html_is_tolerated() -> None:
    html = "</div><p>one <b>bold <i>both</p></div></span><p>two</b></i><ul><li>item<p>three"
    r = render_html(html)
    assert r.text.plain == "one bold both\n\ntwo\n\n• item\n  three"
    assert style_of(r.text, "both").bold and style_of(r.text, "both").italic
    assert not style_of(r.text, "item").bold


def test_unclosed_elements_do_not_swallow_the_rest() -> None:
    assert plain("<p>a<iframe src='https://v.example/'/><p>b") == "a[iframe 1]\n\nb"
    assert plain("<table><tr><td>x<td>y") == "x  y"
    assert plain("<p>a<a href='https://l.example/'>link<p>b") == "alink[1]\n\nb[1]"


def test_pathologically_deep_nesting_stays_bounded() -> None:
    r = render_html("<ul><li>x " * 3000 + "end")
    lines = r.text.plain.split("\n")
    assert lines[-1].endswith("• x end")
    assert max(len(line) for line in lines) < 200  # indentation is capped
    r = render_html("<blockquote>" * 3000 + "q")
    assert r.text.plain.endswith("q") and len(r.text.plain) < 200


def test_empty_input() -> None:
    for html in ("", "   ", "<p></p>", "<script>x</script>"):
        r = render_html(html)
        assert (r.text.plain, r.links, r.paragraphs) == ("", [], [])


# --- paragraph offsets -------------------------------------------------------


def test_paragraph_offsets_map_to_their_text() -> None:
    html = (
        "<h2>Head</h2><p>First <b>para</b>.</p><ul><li>item one</li><li>item two</li></ul>"
        "<blockquote>quoted</blockquote><pre>code\n  block</pre>"
        "<table><tr><td>c1</td><td>c2</td></tr></table><p>Last</p>"
    )
    r = render_html(html)
    got = [r.text.plain[a:b] for a, b in r.paragraphs]
    assert got == [
        "Head",
        "First para.",
        "item one",
        "item two",
        "quoted",
        "code\n  block",
        "c1  c2",
        "Last",
    ]
    starts = [a for a, _ in r.paragraphs]
    assert starts == sorted(starts)


# --- plain text ---------------------------------------------------------------


def test_render_plain_keeps_lines_and_linkifies() -> None:
    text = (
        "\n\nHello,\nsee https://a.example/x.\n\n\n\n"
        "Again (https://a.example/x) and http://b.example/p?q=1#f, [bold]ok\n\n"
    )
    r = render_plain(text)
    assert r.text.plain == (
        "Hello,\nsee https://a.example/x[1].\n\n"
        "Again (https://a.example/x[1]) and http://b.example/p?q=1#f[2], [bold]ok"
    )
    assert r.links == [
        Link(1, "https://a.example/x", "https://a.example/x"),
        Link(2, "http://b.example/p?q=1#f", "http://b.example/p?q=1#f"),
    ]
    got = [r.text.plain[a:b] for a, b in r.paragraphs]
    assert got[0] == "Hello,\nsee https://a.example/x[1]."
    assert got[1].startswith("Again")
    assert style_of(r.text, "[2]").dim


def test_render_plain_keeps_wikipedia_style_parentheses() -> None:
    r = render_plain("https://en.wikipedia.org/wiki/Foo_(bar)")
    assert r.links[0].url == "https://en.wikipedia.org/wiki/Foo_(bar)"


# --- real feeds -------------------------------------------------------------------

CORPUS_FILES = [
    "feeds/rss-parser/input/guardian.rss",
    "feeds/rss-parser/input/heise.atom",
    "feeds/rss-parser/input/content-encoded.rss",
    "feeds/rss-parser/input/many-links.rss",
    "feeds/rss-parser/input/reddit.rss",
    "feeds/rss-parser/input/craigslist.rss",
    "feeds/rss-parser/input/instant-article.rss",
    "feeds/rss-parser/input/uolNoticias.rss",
    "feeds/miniflux/parser/testdata/large_atom.xml",
    "feeds/miniflux/parser/testdata/large_rss.xml",
    "feeds/miniflux/parser/testdata/urdu_UTF8.xml",
    "feeds/miniflux/parser/testdata/encoding_WINDOWS-1251.xml",
]


@pytest.mark.corpus
def test_corpus_entries_render_safely() -> None:
    feedparser = pytest.importorskip("feedparser")
    paths = [CORPUS / name for name in CORPUS_FILES if (CORPUS / name).exists()]
    if not paths:
        pytest.skip("corpus not available")
    rendered = 0
    for path in paths:
        # Unsanitised, as the fetcher stores it: scripts, iframes and all.
        feed = feedparser.parse(str(path), sanitize_html=False, resolve_relative_uris=False)
        for entry in feed.entries[:40]:
            html = entry.content[0].value if entry.get("content") else entry.get("summary", "")
            r = render_html(html, entry.get("link", ""))
            assert "\x1b" not in r.text.plain, path
            for link in r.links:
                assert link.url.split(":", 1)[0].lower() in ("http", "https", "mailto"), link
            for a, b in r.paragraphs:
                assert 0 <= a <= b <= len(r.text.plain)
            assert "\n\n\n" not in r.text.plain.replace("\u2502", "")
            rendered += 1
    assert rendered > 50
