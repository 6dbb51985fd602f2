"""Text hygiene: nothing from a feed may drive the terminal or spoof text."""

from __future__ import annotations

import pytest

from veille.render.hygiene import (
    HIDDEN_TAGS,
    HtmlTokenizer,
    clean_line,
    clean_text,
    first_words,
    html_to_text,
    parse_attrs,
)

ESC = "\x1b"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (f"{ESC}[31mred{ESC}[0m", "red"),  # SGR colour
        (f"{ESC}[1;38;5;196mbold{ESC}[m", "bold"),
        (f"a{ESC}[2J{ESC}[Hb", "ab"),  # clear screen, cursor home
        (f"{ESC}[?1049h{ESC}[?25lx", "x"),  # private modes (alt screen, hide cursor)
        (f"{ESC}]8;;http://evil.example/{ESC}\\click{ESC}]8;;{ESC}\\", "click"),  # OSC 8
        (f"{ESC}]0;pwned title\x07after", "after"),  # OSC set title, BEL-terminated
        (f"{ESC}]2;title{ESC}\\after", "after"),  # OSC, ST-terminated
        (f"{ESC}]52;c;ZXZpbA==\x07x", "x"),  # OSC 52 clipboard write
        (f'{ESC}P$q"p{ESC}\\after', "after"),  # DCS
        (f"{ESC}_apc payload{ESC}\\x", "x"),  # APC
        (f"{ESC}^pm{ESC}\\x{ESC}Xsos{ESC}\\", "x"),  # PM, SOS
        (f"{ESC}7saved{ESC}8{ESC}c", "saved"),  # 2-char: DECSC, DECRC, RIS
        (f"{ESC}(0line{ESC}(B", "line"),  # charset designation (nF)
        ("\x9b31mC1 CSI", "C1 CSI"),  # 8-bit CSI
        ("\x9d0;title\x9cok", "ok"),  # 8-bit OSC with 8-bit ST
        ("\x90dcs\x9cok", "ok"),  # 8-bit DCS
        ("a\x00b\x07c\x08d\x0be\x0cf\x7fg", "abcdefg"),  # C0 and DEL
        ("x\x80\x85\x9fy", "xy"),  # C1
        ("keep\ttabs\nand newlines", "keep\ttabs\nand newlines"),
        ("dos\r\nmac\rend", "dos\nmac\nend"),
        ("evil\u202egnp.exe\u202c", "evilgnp.exe"),  # RLO / PDF
        ("\u2066iso\u2069\u202aemb\u202d", "isoemb"),  # isolates, embeddings, LRO
        ("[@click=app.quit]x[/]", "[@click=app.quit]x[/]"),  # markup is not our job here
        ("[b]bold[/b] [link=http://x]y[/link]", "[b]bold[/b] [link=http://x]y[/link]"),
        ("Grüße — “quotes” 日本語 😀", "Grüße — “quotes” 日本語 😀"),
        ("", ""),
    ],
)
def test_clean_text(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


def test_clean_text_none_and_stray_escape() -> None:
    assert clean_text(None) == ""
    # An unterminated OSC loses its ESC: what is left is inert text.
    out = clean_text(f"a{ESC}]0;never closed")
    assert ESC not in out and out.startswith("a")
    assert clean_text(f"trailing{ESC}") == "trailing"


def test_no_control_survives_any_input() -> None:
    """Every code point from U+0000 to U+00FF, in every position, comes out clean."""
    allowed = {"\n", "\t"}
    everything = "".join(chr(i) for i in range(0x100)) + "\u202a\u202b\u202c\u202d\u202e"
    everything += "\u2066\u2067\u2068\u2069"
    out = clean_text(everything * 2)
    bad = {
        c
        for c in out
        if (ord(c) < 0x20 and c not in allowed)
        or 0x7F <= ord(c) <= 0x9F
        or c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    }
    assert not bad
    assert "ABC" in out and "\xe9" in out  # printable text is kept


def test_clean_line() -> None:
    assert clean_line("  Title\n  on\ttwo\r\nlines  ") == "Title on two lines"
    assert clean_line(f"{ESC}[1mBold{ESC}[0m\u00a0title") == "Bold title"
    assert clean_line(None) == ""
    assert clean_line("[red]not markup[/red]") == "[red]not markup[/red]"


def test_html_to_text_paragraphs_and_breaks() -> None:
    html = "<p>First <b>para</b>.</p><p>Second<br>line two<br/>line three</p>"
    assert html_to_text(html) == "First para.\n\nSecond\nline two\nline three"


def test_html_to_text_lists() -> None:
    html = "<p>Intro</p><ul><li>one</li><li>two <i>2</i></li></ul><ol><li>three</li></ol>End"
    assert html_to_text(html) == "Intro\n\n- one\n- two 2\n\n- three\n\nEnd"


def test_html_to_text_entities() -> None:
    html = "Caf&eacute; &amp; bar &lt;tag&gt; &#8212; &#x263A; &nbsp;x &quot;q&quot; &copy"
    assert html_to_text(html) == 'Café & bar <tag> — ☺ x "q" ©'


def test_html_to_text_drops_script_style_and_head() -> None:
    html = (
        "<html><head><title>T</title><style>p{color:red}</style></head><body>"
        "<script>alert('x')</script><p>Visible</p><noscript>ns</noscript>"
        "<SCRIPT type='text/javascript'>var a = '<p>';</SCRIPT>after</body></html>"
    )
    assert html_to_text(html) == "Visible\n\nafter"


def test_html_to_text_collapses_spaces_and_tables() -> None:
    html = "<div>  lots   of\n\n   space  </div><table><tr><td>a</td><td>b</td></tr></table>"
    assert html_to_text(html) == "lots of space\n\na b"


def test_html_to_text_escape_entities_are_cleaned() -> None:
    # An escape hidden in an entity must not come back to life after decoding.
    out = html_to_text("<p>&#27;[31mred &#x9b;31m &#x202e;rev</p>")
    assert "\x1b" not in out and "\x9b" not in out and "\u202e" not in out
    assert "red" in out and "rev" in out


def test_html_to_text_broken_html() -> None:
    broken = "<p>unclosed <b>bold <i>nest</p></b> <a href='x>y</a> <![if x]> <!-- c --> tail"
    out = html_to_text(broken)
    assert "unclosed" in out and "bold" in out and "nest" in out
    assert "<p>" not in out
    assert html_to_text("<") == "<"
    assert html_to_text("a < b and c > d") == "a < b and c > d"
    assert html_to_text("<script>never closed <p>text") == ""
    assert html_to_text("a </script> b") == "a b"
    assert html_to_text("<<<>>>&&&;;") == "<<<>>>&&&;;"


def test_html_to_text_plain_input() -> None:
    assert html_to_text("just text") == "just text"
    assert html_to_text("") == ""
    assert html_to_text(None) == ""


def test_html_to_text_limit_cuts_on_word_boundary() -> None:
    text = "alpha beta gamma delta epsilon zeta eta theta"
    out = html_to_text(f"<p>{text}</p>", limit=20)
    assert out.endswith("…")
    assert len(out) <= 20
    assert out == "alpha beta gamma…"
    assert text.startswith(out[:-1])


def test_html_to_text_limit_not_needed_and_long_word() -> None:
    assert html_to_text("<p>short</p>", limit=600) == "short"
    out = html_to_text("x" * 100, limit=10)
    assert out == "x" * 9 + "…"


# --- options the other layers need (one clean_line, one clean_text) ------------


def test_clean_line_limit_cuts_on_a_word_boundary() -> None:
    # net/fetcher and net/httputil bound server messages (300); they now share this cut.
    message = "Service Unavailable: " + "the upstream server did not answer " * 20
    out = clean_line(f"{ESC}[31m{message}\r\n", limit=60)
    assert len(out) <= 60 and out.endswith("…")
    assert out == "Service Unavailable: the upstream server did not answer the…"
    assert clean_line("short", limit=60) == "short"
    assert clean_line("x" * 100, limit=10) == "x" * 9 + "…"


def test_clean_text_strip_bom_for_text_about_to_be_posted() -> None:
    assert clean_text("\ufeffHello\ufeff world") == "\ufeffHello\ufeff world"  # ingest: as today
    assert clean_text("\ufeffHello\ufeff world\x1b[1m", strip_bom=True) == "Hello world"
    assert clean_line("\ufeff  a\n b ", strip_bom=True) == "a b"


def test_first_words() -> None:
    text = "A title made from the first words of a body that is long"
    assert first_words(text, 200) == text
    assert first_words(text, 30) == "A title made from the first…"
    assert first_words("word, word, word, word", 12) == "word, word…"  # no dangling comma
    assert first_words(text, 0) == ""


# --- the tokenizer ------------------------------------------------------------------


class Events(HtmlTokenizer):
    def __init__(self) -> None:
        self.events: list[tuple[str, ...]] = []

    def handle_starttag(self, tag: str, attrs: str, closed: bool) -> None:
        pairs = sorted(parse_attrs(attrs).items())[:3]
        self.events.append(("start", tag, *(f"{k}={v}" for k, v in pairs)))
        if closed:
            self.events.append(("closed", tag))

    def handle_endtag(self, tag: str) -> None:
        self.events.append(("end", tag))

    def handle_data(self, data: str) -> None:
        if self.events and self.events[-1][0] == "data":
            self.events[-1] = ("data", self.events[-1][1] + data)
        else:
            self.events.append(("data", data))


def events(html: str) -> list[tuple[str, ...]]:
    e = Events()
    assert e.scan(html) == len(html)
    return e.events


def test_tokenizer_tags_attributes_and_entities() -> None:
    got = events("<P Class=\"x\" title='a > b' id=z data-x>T&amp;t&eacute;<BR/></p>")
    assert got == [
        ("start", "p", "class=x", "data-x=", "id=z"),
        ("data", "T&té"),
        ("start", "br"),
        ("closed", "br"),
        ("end", "p"),
    ]
    # a quoted value may hold ">"; the first of two same-named attributes wins
    assert parse_attrs(' title="a > b" title="no" href="/x?a=1&amp;b=2"') == {
        "title": "a > b",
        "href": "/x?a=1&b=2",
    }


def test_tokenizer_raw_text_comments_cdata_and_declarations() -> None:
    got = events(
        "<!DOCTYPE html><?xml x?><script>if (a<b) document.write('</p>')</script>"
        "<!-- a -- b --><!--><![CDATA[x < y]]><style>p{}</STYLE >end"
    )
    assert got == [
        ("start", "script"),
        ("data", "if (a<b) document.write('</p>')"),
        ("end", "script"),
        ("data", "x < y"),
        ("start", "style"),
        ("data", "p{}"),
        ("end", "style"),
        ("data", "end"),
    ]


def test_tokenizer_text_that_is_not_markup_and_broken_ends() -> None:
    assert events("a < b <3 <<>> </ x") == [("data", "a < b <3 <<>> ")]
    # An unterminated tag or comment hides the rest, as in a browser.
    assert events("before <a href='x") == [("data", "before ")]
    assert events("before <!-- never closed <p>x") == [("data", "before ")]
    assert events("<script>never closed <p>") == [
        ("start", "script"),
        ("data", "never closed <p>"),
        ("end", "script"),
    ]


def test_tokenizer_stops_and_resumes_between_pieces() -> None:
    html = "<p>" + "word &amp; " * 1000 + "</p><p>two</p>"
    whole = events(html)
    e = Events()
    pos = 0
    while pos < len(html):
        pos = e.scan(html, pos, pos + 100)
    assert e.events == whole  # no entity halved, nothing lost or repeated


@pytest.mark.timeout(60)  # a hang guard, not a speed figure: the stdlib parser takes minutes
def test_text_that_looks_like_unclosed_tags_is_read_in_linear_time() -> None:
    assert html_to_text("x <a y " * 20000) == "x"
    assert html_to_text("<p>" + "a<b " * 20000) == "a"
    assert html_to_text("<p title='" + "x" * 100000) == ""


# --- the same tag tables everywhere -------------------------------------------------


@pytest.mark.parametrize("tag", sorted(HIDDEN_TAGS))
def test_hidden_elements_are_dropped_by_every_html_reader(tag: str) -> None:
    from veille.render.html import render_html

    html = f"<p>before</p><{tag}>hidden words</{tag}><p>after</p>"
    for text in (html_to_text(html), html_to_text(html, limit=300), render_html(html).text.plain):
        assert "hidden" not in text
        assert "after" in text


def test_object_fallback_is_kept_by_every_html_reader() -> None:
    from veille.render.html import render_html

    html = '<object data="movie.swf"><param name="a" value="b"><a href="https://x.example/m.mp4">Download</a></object>'
    assert html_to_text(html) == "Download"
    assert html_to_text(html, limit=300) == "Download"
    assert render_html(html).text.plain == "Download[1]"


# --- MathML -------------------------------------------------------------------------

WIKI_10_3 = (
    '<span class="mwe-math-element"><span class="mwe-math-mathml-inline mwe-math-mathml-a11y"'
    ' style="display: none;"><math xmlns="http://www.w3.org/1998/Math/MathML"'
    ' alttext="{\\displaystyle 10^{3}}"><semantics><mrow class="MJX-TeXAtom-ORD">'
    '<mstyle displaystyle="true" scriptlevel="0"><msup><mn>10</mn><mrow class="MJX-TeXAtom-ORD">'
    '<mn>3</mn></mrow></msup></mstyle></mrow><annotation encoding="application/x-tex">'
    "{\\displaystyle 10^{3}}</annotation></semantics></math></span>"
    '<img src="https://wikimedia.org/api/rest_v1/media/math/render/svg/abc"'
    ' class="mwe-math-fallback-image-inline mw-invert skin-invert" aria-hidden="true"'
    ' style="vertical-align: -0.338ex; width:3.222ex; height:2.676ex;"'
    ' alt="{\\displaystyle 10^{3}}"></span>'
)


def test_html_to_text_keeps_mathml_text() -> None:
    html = f"<p>A thousand is {WIKI_10_3}.</p>"
    assert html_to_text(html) == "A thousand is 10³."
    assert html_to_text(html, limit=300) == "A thousand is 10³."


def test_html_to_text_says_a_katex_formula_once() -> None:
    katex = (
        '<p>Half: <span class="katex"><span class="katex-mathml"><math><semantics><mrow><mfrac>'
        '<mn>1</mn><mn>2</mn></mfrac></mrow><annotation encoding="application/x-tex">'
        '\\frac{1}{2}</annotation></semantics></math></span><span class="katex-html"'
        ' aria-hidden="true"><span class="base"><span class="mord"><span class="mfrac">'
        "<span>2</span><span>1</span></span></span></span></span></span>.</p>"
    )
    assert html_to_text(katex) == "Half: 1/2."
    assert html_to_text(katex, limit=300) == "Half: 1/2."


def test_a_summary_is_the_start_of_the_full_text() -> None:
    # One reading for both: the stored summary and the full text never disagree
    # (the summary path used to drop list bullets and keep other tags' text).
    html = (
        "<h1>Title</h1><ul><li>first point</li><li>second point</li></ul>"
        "<p>Body &amp; more <b>words</b> <noscript>enable JS</noscript>" + "text " * 200 + "</p>"
    )
    full = html_to_text(html)
    assert full.startswith("Title\n\n- first point\n- second point\n\nBody & more words text")
    for limit in (20, 60, 300):
        assert html_to_text(html, limit=limit) == first_words(full, limit)


@pytest.mark.timeout(10)  # a hang guard: a stop past the end used to loop
def test_tokenizer_scan_at_or_past_the_end_returns() -> None:
    e = Events()
    assert e.scan("", 0, 10) == 0
    assert e.scan("<p>x", 4, 100) == 4
    assert e.events == []
