"""HTML/plain rendering for the item pane: layout, link numbering, safety, offsets."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.style import Style
from rich.text import Text

from veille.render.html import Link, Rendered, link_list, render_html, render_plain
from veille.share.compose import quote_block

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


def test_wide_table_falls_back_to_pipe_rows_that_wrap_with_a_hanging_indent() -> None:
    long = "word " * 12
    html = f"<table><tr><td>{long}</td><td>{long}</td></tr><tr><td>x</td><td>y</td></tr></table>"
    r = render_html(html, width_hint=60)
    lines = r.text.plain.split("\n")
    assert lines == [
        "word word word word word word word word word word word",
        "  word | word word word word word word word word word word",
        "  word word",
        "x | y",
    ]
    # one row, one paragraph: quoting it gives the whole row
    assert r.paragraph_at(1) == f"{long.strip()} | {long.strip()}"
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
def test_corpus_entries_render_safely(corpus: Path) -> None:
    feedparser = pytest.importorskip("feedparser")
    paths = [corpus / name for name in CORPUS_FILES if (corpus / name).exists()]
    if not paths:
        pytest.skip("corpus not available")
    rendered = 0
    for path in paths:
        # Unsanitised, as the fetcher stores it: scripts, iframes and all.
        feed = feedparser.parse(str(path), sanitize_html=False, resolve_relative_uris=False)
        for entry in feed.entries[:40]:
            html = entry.content[0].value if entry.get("content") else entry.get("summary", "")
            r = render_html(html, entry.get("link", ""), width_hint=50)
            assert "\x1b" not in r.text.plain, path
            assert_fits(r.text.plain, 50)  # real bodies too: nothing left for Textual to wrap
            assert_fits(link_list(r.links, width=50).plain, 50)
            lines = r.text.plain.split("\n")
            assert all(0 <= b.first_line <= b.last_line < len(lines) for b in r.blocks)
            for link in r.links:
                assert link.url.split(":", 1)[0].lower() in ("http", "https", "mailto"), link
            for a, b in r.paragraphs:
                assert 0 <= a <= b <= len(r.text.plain)
            assert "\n\n\n" not in r.text.plain.replace("\u2502", "")
            rendered += 1
    assert rendered > 50


# --- wrapping at the pane's width, with hanging indents -------------------------

LONG = (
    "Curators quote what they read, so every wrapped line of a quote must keep its bar "
    "and every wrapped line of a list item must stay under the text after its bullet."
)


def lines_of(r: Rendered) -> list[str]:
    return r.text.plain.split("\n")


def assert_fits(text: str, width: int) -> None:
    for line in text.split("\n"):
        assert cell_len(line) <= width, line


def test_wrapped_lines_of_a_quote_keep_the_bar_nested_quotes_both() -> None:
    r = render_html(
        f"<blockquote><p>{LONG}</p><blockquote>{LONG}</blockquote></blockquote>", width_hint=40
    )
    lines = lines_of(r)
    assert_fits(r.text.plain, 40)
    outer = lines[: lines.index("│")]
    inner = lines[lines.index("│") + 1 :]
    assert len(outer) >= 4 and len(inner) >= 4
    assert all(line.startswith("│ ") and not line.startswith("│ │") for line in outer)
    assert all(line.startswith("│ │ ") for line in inner)
    # the bars are dim on every line, not only the first
    for i, line in enumerate(lines):
        if line.startswith("│"):
            offset = sum(len(x) + 1 for x in lines[:i])
            assert style_of(r.text, "│", r.text.plain[:offset].count("│")).dim
    # and the words are all there, in order
    words = " ".join(line.strip("│ ") for line in outer).split()
    assert words == LONG.split()


def test_wrapped_list_items_hang_under_their_text() -> None:
    html = f"<ul><li>{LONG}<ul><li>{LONG}</li></ul></li></ul>"
    html += f"<ol start='9'><li>{LONG}</li><li>{LONG}</li></ol>"
    lines = lines_of(render_html(html, width_hint=44))
    assert_fits("\n".join(lines), 44)
    kinds = []
    for line in lines:
        if line.startswith("• "):
            kinds.append("bullet")
        elif line.startswith("  • "):
            kinds.append("nested bullet")
        elif line.startswith(("9. ", "10. ")):
            kinds.append("number")
        elif line.startswith("    ") and not line.startswith("     "):
            kinds.append("4")  # under the text of "  • " or of "10. "
        elif line.startswith("   ") and not line.startswith("    "):
            kinds.append("3")  # under the text of "9. "
        elif line.startswith("  ") and not line.startswith("   "):
            kinds.append("2")  # under the text of "• "
        else:
            kinds.append(line)
    first_item = kinds[: kinds.index("nested bullet")]
    assert first_item[0] == "bullet" and set(first_item[1:]) == {"2"}
    nine = lines.index(next(x for x in lines if x.startswith("9. ")))
    ten = lines.index(next(x for x in lines if x.startswith("10. ")))
    assert set(kinds[nine + 1 : ten]) == {"3"}
    assert set(kinds[ten + 1 :]) == {"4"}


def test_quote_inside_a_list_and_code_block_keep_their_prefixes() -> None:
    code = "x = compute(" + ", ".join(f"arg{i}" for i in range(20)) + ")"
    html = f"<ul><li><blockquote>{LONG}</blockquote></li></ul>"
    html += f"<blockquote><pre>{code}\n  done()</pre></blockquote>"
    lines = lines_of(render_html(html, width_hint=40))
    assert_fits("\n".join(lines), 40)
    quote = lines[: lines.index("")]
    assert quote[0].startswith("• │ ") and all(x.startswith("  │ ") for x in quote[1:])
    pre = lines[lines.index("") + 1 :]
    assert all(x.startswith("│ ") for x in pre)
    # code is folded, not word-wrapped: its text comes back exactly
    assert "".join(x[2:] for x in pre[:-1]) == code
    assert pre[-1] == "│   done()"


def test_long_urls_break_after_a_separator_and_nothing_overflows() -> None:
    url = "https://example.com/" + "/".join(f"segment{i}" for i in range(12)) + "/end.html"
    r = render_html(
        f"<p>See {url} for details, or <a href='{url}'>this page</a>.</p>", width_hint=40
    )
    lines = lines_of(r)
    assert_fits(r.text.plain, 40)
    assert lines[0].startswith("See https://example.com/")  # starts where there is room
    assert all(line.endswith("/") for line in lines[:3])  # breaks after a "/"
    assert "".join(lines).replace(" ", "").startswith("See" + url)


def test_plain_text_with_runs_of_spaces_before_a_long_url_fits() -> None:
    url = "https://example.com/" + "/".join(f"s{i}" for i in range(40))
    r = render_plain(f"see    {url}   and more", width_hint=30)
    assert_fits(r.text.plain, 30)
    assert r.text.plain.split("\n")[0].startswith("see    https://")
    assert r.paragraph_at(1) == f"see    {url}   and more"


def test_wide_characters_wrap_by_cells() -> None:
    cjk = "日本語の文章は空白なしで続きます。" * 6
    r = render_html(f"<blockquote>{cjk}</blockquote>", width_hint=30)
    assert_fits(r.text.plain, 30)
    lines = lines_of(r)
    assert len(lines) > 3 and all(line.startswith("│ ") for line in lines)
    assert "".join(line[2:] for line in lines) == cjk


def test_a_huge_single_line_is_pre_wrapped_for_textual() -> None:
    # Textual wraps a long line with quadratic work; lines that fit cost it nothing.
    body = "word " * 200_000
    for r in (render_html(f"<p>{body}</p>", width_hint=76), render_plain(body, width_hint=76)):
        lines = lines_of(r)
        assert len(lines) > 10_000
        assert max(len(line) for line in lines) <= 76
        assert r.paragraph_at(5_000) == body.strip()


def test_render_plain_wraps_keeping_its_own_line_breaks() -> None:
    r = render_plain(f"{LONG}\nsecond line\n\nnext", width_hint=40)
    lines = lines_of(r)
    assert_fits(r.text.plain, 40)
    assert lines[-3:] == ["second line", "", "next"]
    assert r.paragraph_at(0) == f"{LONG}\nsecond line"


# --- the paragraph a line belongs to (the composer's ">" key) ---------------------


def test_paragraph_at_gives_the_text_shown_without_bars_bullets_or_numbers() -> None:
    html = (
        f"<h2>Heading</h2><p>Read <a href='https://a.example/'>this</a> and {LONG}</p>"
        f"<ul><li>item <a href='https://b.example/'>one</a></li>"
        f"<li><p>item two</p><blockquote><p>{LONG}</p><p>second <img src='https://c.example/i.png'"
        " alt='chart'> para</p></blockquote></li></ul>"
        "<p>line one<br>line two</p><hr><table><tr><th>k</th><th>v</th></tr>"
        "<tr><td>a</td><td>1</td></tr></table>"
    )
    r = render_html(html, width_hint=40)
    lines = lines_of(r)
    assert_fits(r.text.plain, 40)

    def at(needle: str) -> str:
        return r.paragraph_at(next(i for i, x in enumerate(lines) if needle in x))

    assert r.paragraph_at(0) == "Heading"
    assert r.paragraph_at(1) == f"Read this and {LONG}"  # the blank line: the next one
    last_line_of_read = next(i for i, x in enumerate(lines) if x.endswith("after its bullet."))
    assert r.paragraph_at(last_line_of_read) == f"Read this and {LONG}"
    assert at("item one") == "item one"
    assert at("item two") == "item two"
    quoted = [i for i, x in enumerate(lines) if x.startswith("  │ ")]
    assert {r.paragraph_at(i) for i in quoted[:3]} == {LONG}
    assert at("para") == "second [img: chart] para"
    assert at("line two") == "line one\nline two"
    assert at("───") == "k  v"  # a rule: the next paragraph (the table's header row)
    assert at("a  1") == "a  1"
    assert r.paragraph_at(len(lines) + 5) == ""
    # blocks are in order and cover their lines
    firsts = [b.first_line for b in r.blocks]
    assert firsts == sorted(firsts)
    assert all(b.first_line <= b.last_line < len(lines) for b in r.blocks)


def test_paragraph_at_in_plain_text_drops_link_numbers() -> None:
    r = render_plain("See https://a.example/x and https://b.example/.\n\nBye https://a.example/x")
    assert r.text.plain.split("\n")[0] == "See https://a.example/x[1] and https://b.example/[2]."
    assert r.paragraph_at(0) == "See https://a.example/x and https://b.example/."
    assert r.paragraph_at(2) == "Bye https://a.example/x"


def test_paragraph_at_is_what_the_quote_key_quotes() -> None:
    r = render_html(f"<blockquote><p>{LONG}</p></blockquote>", width_hint=30)
    assert quote_block(r.paragraph_at(3)) == f"> {LONG}"


# --- big bodies in pieces --------------------------------------------------------


def test_max_chars_renders_the_start_now_and_the_rest_on_resume() -> None:
    html = "".join(f"<p>Paragraph {i} <a href='/p/{i}'>link</a> {LONG}</p>" for i in range(2000))
    full = render_html(html, BASE, width_hint=60)
    first = render_html(html, BASE, width_hint=60, max_chars=20_000)
    assert first.truncated and not full.truncated
    assert 10_000 <= len(first.text.plain) < len(full.text.plain) // 10
    # every complete paragraph of the first piece is the final one
    shown = first.text.plain.rsplit("\n\n", 1)[0]
    assert full.text.plain.startswith(shown)
    assert first.links == full.links[: len(first.links)]
    rest = first.resume()
    assert not rest.truncated
    assert rest.text.plain == full.text.plain
    assert [link.url for link in rest.links] == [link.url for link in full.links]
    assert rest.blocks == full.blocks
    assert first.resume() is rest  # asking twice does not render twice
    assert rest.resume() is rest


def test_max_chars_splits_one_huge_line_and_pieces_can_be_stepped() -> None:
    body = "<p>" + "word &amp; more " * 50_000 + "</p>"
    first = render_html(body, width_hint=50, max_chars=5_000)
    assert first.truncated and first.text.plain.startswith("word & more word & more")
    assert "&amp;" not in first.text.plain  # no entity cut in half
    second = first.resume(max_chars=5_000)
    assert second.truncated and len(second.text.plain) > len(first.text.plain)
    assert render_html(body, width_hint=50, max_chars=10**9).truncated is False
    plain_first = render_plain("line\n" * 100_000, max_chars=1_000)
    assert plain_first.truncated and plain_first.resume().text.plain.count("line") == 100_000


@pytest.mark.timeout(60)  # a hang guard, not a speed figure: the stdlib parser takes minutes
def test_markup_lookalike_text_renders_in_linear_time() -> None:
    r = render_html("<p>if x " + "<a y " * 30_000)
    assert r.text.plain == "if x"  # the rest is one unterminated tag, as in a browser


# --- MathML ---------------------------------------------------------------------


def wiki_math(tex: str, mathml: str) -> str:
    """A formula as Wikipedia's HTML has it: hidden MathML and a fallback image."""
    return (
        '<span class="mwe-math-element"><span class="mwe-math-mathml-inline'
        ' mwe-math-mathml-a11y" style="display: none;"><math'
        ' xmlns="http://www.w3.org/1998/Math/MathML"'
        f' alttext="{{\\displaystyle {tex}}}"><semantics><mrow class="MJX-TeXAtom-ORD">'
        f'<mstyle displaystyle="true" scriptlevel="0">{mathml}</mstyle></mrow>'
        f'<annotation encoding="application/x-tex">{{\\displaystyle {tex}}}</annotation>'
        "</semantics></math></span><img"
        ' src="https://wikimedia.org/api/rest_v1/media/math/render/svg/0123"'
        ' class="mwe-math-fallback-image-inline mw-invert skin-invert" aria-hidden="true"'
        f' alt="{{\\displaystyle {tex}}}"></span>'
    )


def test_mathml_in_a_table_of_powers_of_ten_keeps_its_figures() -> None:
    names = {3: "thousand", 6: "million", 9: "billion", 10: "ten billion"}
    rows = "".join(
        f"<tr><td>{wiki_math(f'10^{{{k}}}', f'<msup><mn>10</mn><mrow><mn>{k}</mn></mrow></msup>')}"
        f"</td><td>{name}</td></tr>"
        for k, name in names.items()
    )
    r = render_html(f"<table><tr><th>Value</th><th>Name</th></tr>{rows}</table>")
    assert r.text.plain.split("\n") == [
        "Value  Name",
        "─────  ───────────",
        "10³    thousand",
        "10⁶    million",
        "10⁹    billion",
        "10¹⁰   ten billion",
    ]
    assert r.links == []  # the fallback images are not listed


def test_mathml_from_arxiv_katex_and_plain_presentation() -> None:
    arxiv = (
        '<p>Energy <math id="S1.p1.1.m1.1" class="ltx_Math" alttext="E=mc^{2}" display="inline">'
        "<semantics><mrow><mi>E</mi><mo>=</mo><mrow><mi>m</mi><mo>\u2062</mo><msup><mi>c</mi>"
        '<mn>2</mn></msup></mrow></mrow><annotation-xml encoding="MathML-Content"><apply><eq/>'
        "<ci>E</ci><apply><times/><ci>m</ci><apply><csymbol cd='ambiguous'>superscript</csymbol>"
        "<ci>c</ci><cn type='integer'>2</cn></apply></apply></apply></annotation-xml>"
        '<annotation encoding="application/x-tex">E=mc^{2}</annotation></semantics></math>'
        " holds.</p>"
    )
    assert render_html(arxiv).text.plain == "Energy E = mc² holds."
    katex = (
        '<p>Half: <span class="katex"><span class="katex-mathml"><math><semantics><mrow><mfrac>'
        '<mn>1</mn><mn>2</mn></mfrac></mrow><annotation encoding="application/x-tex">'
        '\\frac{1}{2}</annotation></semantics></math></span><span class="katex-html"'
        ' aria-hidden="true"><span class="base"><span class="mord"><span class="mfrac">'
        "<span>2</span><span>1</span></span></span></span></span></span>.</p>"
    )
    assert render_html(katex).text.plain == "Half: 1/2."
    mixed = (
        "<p><math><msqrt><mi>x</mi></msqrt><mo>+</mo><msub><mi>a</mi><mi>i</mi></msub>"
        "<mo>−</mo><msup><mn>10</mn><mrow><mo>−</mo><mn>3</mn></mrow></msup><mo>+</mo>"
        "<msup><mi>e</mi><mrow><mi>i</mi><mi>π</mi></mrow></msup><mo>+</mo><mfrac><mrow>"
        "<mi>a</mi><mo>+</mo><mi>b</mi></mrow><mn>2</mn></mfrac></math></p>"
    )
    assert render_html(mixed).text.plain == "√x + aᵢ − 10⁻³ + e^(iπ) + (a+b)/2"
    # prose alttext wins; TeX is the fallback for what does not read well on a line
    assert (
        render_html('<math alttext="x squared"><msup><mi>x</mi><mn>2</mn></msup></math>').text.plain
        == "x squared"
    )
    multi = (
        "<math><mmultiscripts><mi>X</mi><mprescripts/><mi>a</mi><none/></mmultiscripts>"
        '<annotation encoding="application/x-tex">{}_{a}X</annotation></math>'
    )
    assert render_html(multi).text.plain == "{}_{a}X"


def test_display_math_is_a_line_of_its_own() -> None:
    html = '<p>so<math display="block"><mi>a</mi><mo>=</mo><mi>b</mi></math>hence</p>'
    assert render_html(html).text.plain == "so\na = b\nhence"


def test_unclosed_math_keeps_its_text_and_is_bounded() -> None:
    assert render_html("<p>x <math><mi>y</mi>").text.plain == "x y"
    r = render_html("<math>" + "<mrow>" * 5000 + "<mi>deep</mi>")
    assert r.text.plain == "deep"


# --- the link list ----------------------------------------------------------------


def test_link_list_wraps_long_urls_under_themselves() -> None:
    links = [Link(n, f"https://example.com/{n}", "x") for n in range(1, 10)] + [
        Link(10, "https://example.com/" + "/".join(f"part{i}" for i in range(15)), "x"),
        Link(11, "https://cdn.example.com/images/" + "a" * 80 + ".png", "pic", "image"),
    ]
    footer = link_list(links, width=40)
    lines = footer.plain.split("\n")
    assert_fits(footer.plain, 40)
    ten = lines.index(next(x for x in lines if x.startswith("[10]")))
    assert lines[ten].startswith("[10] https://example.com/part0/")  # number and URL together
    eleven = lines.index(next(x for x in lines if x.startswith("[11]")))
    assert all(x.startswith("     ") and x[5] != " " for x in lines[ten + 1 : eleven])
    assert lines[ten][5:] + "".join(x.strip() for x in lines[ten + 1 : eleven]) == links[9].url
    assert lines[-1].endswith(" (image)") or lines[-1].strip() == "(image)"
    assert style_of(footer, "(image)").dim
    # without a width: one line per link, as before
    assert link_list(links).plain.split("\n")[10] == f"[10] {links[9].url}"
