"""Hostile feed *content* (issue 8): escapes, C1, bidi and unsafe links in every field.

:func:`hostile_feeds` builds one RSS, one Atom and one JSON Feed document whose every
text field carries something a terminal would obey (escape sequences as raw bytes, the
same as XML and HTML character references, 8-bit C1 controls, bidi overrides) and
whose links use schemes that must never be opened (``javascript:``, ``file:``,
``data:``...).  Served on 127.0.0.1 (:func:`serve_hostile`), subscribed and refreshed
like any feed, they must come out of every channel a user sees clean:

* ``veille items`` / ``items --json`` / ``feeds`` / ``feeds --json`` (:func:`output_problems`)
* the app's own terminal stream, recorded byte for byte by tmux (:func:`stream_problems`)
* ``$BROWSER``, which must only ever receive http(s) URLs (:func:`browser_problems`)

Every escape sequence that must vanish whole carries :data:`MARK` inside it (its
parameter), so finding the marker anywhere means a sequence (or its remains) got
through; unterminated sequences carry :data:`LEFTOVER`, which may remain as plain text
once their ESC is gone.  Each item's visible text carries ``SEEN-<n>`` so a check can
tell an item that was shown clean from one that was never shown.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from tests.faults import Row, scenario
from tests.faults.home import Home
from tests.faults.servers import RawServer, request_path, response, running

MARK = "PWNED"
LEFTOVER = "LEFTOVER"
ITEMS_PER_FORMAT = 17  # 3 formats: 51 hostile items

#: Sequences a terminal obeys, as raw characters (each must disappear, marker and all).
RAW_ESCAPES = [
    f"\x1b]0;{MARK}-title\x07",  # OSC 0: sets the window title
    f"\x1b]2;{MARK}-title2\x1b\\",  # OSC 2, ST-terminated
    f"\x1b]8;;https://evil.example/{MARK}-osc8\x1b\\here\x1b]8;;\x1b\\",  # a hidden hyperlink
    f"\x1b]52;c;{MARK}UFdORUQ=\x07",  # OSC 52: writes the clipboard
    f"\x1bP{MARK}-dcs\x1b\\",  # DCS: talks to the terminal itself
    f"\x1b_{MARK}-apc\x1b\\",  # APC (kitty graphics and friends)
    # 8-bit OSC and DCS: an XML parser may read these bytes as windows-1252 (printable
    # "\u201d"...), so what stays behind is harmless text.
    f"\x9d0;{LEFTOVER}-c1osc\x9c",
    f"\x90{LEFTOVER}-c1dcs\x9c",
    "\x1b[2J\x1b[H\x1b[31;1m\x1b[6n\x1b[?1049h\x1b[5m",  # clear, home, colour, DSR, alt screen
    "\x9b2J\x9b31m",  # 8-bit CSI
    "\x1bc\x1b(0\x1b#8",  # full reset, line drawing set, screen alignment test
    f"\x1b]0;{LEFTOVER}",  # never terminated: the ESC must go, the text may stay
]
#: Lone control characters (C0 but tab/newline, DEL, C1 incl. NEL).
RAW_CONTROLS = "\x07\x08\x0b\x0c\r\x7f\x85\x8d\x9f"
#: Bidi embeddings, overrides, isolates and marks (Trojan Source, CVE-2021-42574).
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
#: The same as character references (what an XML or HTML layer decodes into them).  A
#: decoder may drop the reference to ESC and leave the rest as text: LEFTOVER.
CHAR_REFS = [
    f"&#x1b;]0;{LEFTOVER}-ref&#x7;",
    f"&#27;]2;{LEFTOVER}-dec&#7;",
    "&#x9b;2J&#155;31m",
    "&#x202e;&#x2066;&#8238;&#x2069;",
    "&#x85;&#x8d;&#x7f;&#8;",
]
#: Links that must never be opened (in link fields and as <a href> in bodies); ``{n}``
#: makes each item's own (items with one link would otherwise be merged as one story).
UNSAFE_LINKS = [
    "javascript:alert({n})",
    "JaVaScRiPt:alert(document.cookie+{n})",
    " javascript:alert({n})",
    "java\tscript:alert({n})",
    "\x01javascript:alert({n})",
    "&#106;avascript:alert({n})",
    "file:///etc/passwd?{n}",
    "file://localhost/etc/shadow?{n}",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==#{n}",
    "vbscript:msgbox({n})",
    "ftp://example.org/{n}",
    "ssh://example.org/{n}",
    "about:blank#{n}",
    "chrome://settings/{n}",
    "feed:javascript:alert({n})",
]
SAFE_PREFIX = "https://ok.example/"

# C0 but tab/newline, DEL, C1, bidi controls and marks.
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _payload(n: int) -> str:
    """The hostile text of item ``n``: a rotating mix, so every field meets every kind."""
    esc = RAW_ESCAPES[n % len(RAW_ESCAPES)] + RAW_ESCAPES[(n + 5) % len(RAW_ESCAPES)]
    ctl = RAW_CONTROLS[n % len(RAW_CONTROLS)] + BIDI[n % len(BIDI)] + BIDI[(n + 4) % len(BIDI)]
    return f"{esc}{ctl}"


def _refs(n: int) -> str:
    return CHAR_REFS[n % len(CHAR_REFS)]


def _unsafe(n: int) -> str:
    return UNSAFE_LINKS[n % len(UNSAFE_LINKS)].format(n=n)


def _link(n: int) -> str:
    """Item ``n``'s own link: unsafe for most, a safe https one for every third item,
    some of those with escapes inside (which must be cleaned, not kept)."""
    if n % 3 == 0:
        return f"{SAFE_PREFIX}item/{n}" + (f"\x1b]0;{MARK}\x07" if n % 2 else "")
    link = _unsafe(n)
    # "&#106;avascript:..." read as a relative link is "/&" plus a fragment, the same
    # page for every item: they would be merged as one story.  Bodies still have it.
    return link if not link.startswith("&") else _unsafe(n + 1)


def _body(n: int) -> str:
    """An HTML body: raw escapes in text and attributes, references, unsafe and safe links."""
    p = _payload(n)
    return (
        f"<p>SEEN-{n} body {p} and {_refs(n)} and &amp;#x1b;]0;{LEFTOVER}-literal&amp;#7;</p>"
        f'<p><a href="{_unsafe(n)}">bad link {p}</a> '
        f'<a href="{_unsafe(n + 1)}" title="{p}">bad two</a> '
        f'<a href="{SAFE_PREFIX}body/{n}">good link</a> '
        f'<img src="{_unsafe(n + 2)}" alt="alt {p}"></p>'
        f"<pre>{p}code</pre><blockquote>{_refs(n + 1)} quoted {p}</blockquote>"
    )


def _xml_text(s: str) -> str:
    """``s`` escaped for XML text, keeping raw control bytes (the feed is ill-formed
    on purpose: a loose parser must still read it, and clean it)."""
    return escape(s, {'"': "&quot;"})


def rss(n_items: int, start: int = 0) -> bytes:
    items = []
    for k in range(n_items):
        n = start + k
        p, r = _payload(n), _refs(n)
        items.append(
            "<item>"
            f"<title>SEEN-{n} title {_xml_text(p)} {r}</title>"
            f"<link>{_xml_text(_link(n))}</link>"
            f"<description>{_xml_text(_body(n))}</description>"
            f"<content:encoded><![CDATA[{_body(n)}]]></content:encoded>"
            f"<author>x@example.org ({_xml_text(p)} author)</author>"
            f"<dc:creator>{_xml_text(p)}creator {r}</dc:creator>"
            f"<category>{_xml_text(p)}cat-{n}</category><category>{r}</category>"
            f"<guid isPermaLink='false'>rss-{n}{_xml_text(p)}</guid>"
            f"<comments>{_xml_text(_unsafe(n + 3))}</comments>"
            f"<enclosure url='{_xml_text(_unsafe(n + 4))}' type='audio/mpeg{_xml_text(p)}'"
            " length='1'/>"
            f"<source url='{_xml_text(_unsafe(n))}'>{_xml_text(p)}</source>"
            f"<pubDate>Mon, 0{1 + k % 9} Jun 2026 10:00:00 GMT</pubDate>"
            "</item>"
        )
    p = _payload(99)
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>SEEN-rss feed {_xml_text(p)} {_refs(1)}</title>"
        f"<link>{_xml_text(_unsafe(0))}</link>"
        f"<description>{_xml_text(p)}</description>"
        f"<managingEditor>{_xml_text(p)}</managingEditor>"
        f"{''.join(items)}</channel></rss>"
    ).encode()


def atom(n_items: int, start: int = 0) -> bytes:
    entries = []
    for k in range(n_items):
        n = start + k
        p, r = _payload(n), _refs(n)
        entries.append(
            "<entry>"
            f"<title type='html'>SEEN-{n} title {_xml_text(p)} {_xml_text(r)}</title>"
            f"<link rel='alternate' href='{_xml_text(_link(n))}'/>"
            f"<link rel='enclosure' href='{_xml_text(_unsafe(n + 4))}' type='image/png'/>"
            f"<id>atom-{n}{_xml_text(p)}</id>"
            f"<updated>2026-06-0{1 + k % 9}T10:00:00Z</updated>"
            f"<author><name>{_xml_text(p)}name {r}</name><uri>{_xml_text(_unsafe(n))}</uri>"
            "</author>"
            f"<category term='{_xml_text(p)}term' label='{_xml_text(r)}label'/>"
            f"<summary type='text'>{_xml_text(p)} summary {r}</summary>"
            f"<content type='html'>{_xml_text(_body(n))}</content>"
            "</entry>"
        )
    p = _payload(98)
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title type='html'>SEEN-atom feed {_xml_text(p)} {_xml_text(_refs(2))}</title>"
        f"<subtitle>{_xml_text(p)}</subtitle><id>urn:hostile</id>"
        f"<link rel='alternate' href='{_xml_text(_unsafe(1))}'/>"
        f"<updated>2026-06-01T10:00:00Z</updated><author><name>{_xml_text(p)}</name></author>"
        f"{''.join(entries)}</feed>"
    ).encode()


def json_feed(n_items: int, start: int = 0) -> bytes:
    items: list[dict[str, Any]] = []
    for k in range(n_items):
        n = start + k
        p, r = _payload(n), _refs(n)
        items.append(
            {
                "id": f"json-{n}{p}",
                "url": _link(n),
                "external_url": _unsafe(n + 1),
                "title": f"SEEN-{n} title {p} {r}",
                "content_html": _body(n),
                "content_text": f"{p} text {r}",
                "summary": f"{p} summary {r}",
                "image": _unsafe(n + 2),
                "banner_image": _unsafe(n + 3),
                "date_published": f"2026-06-0{1 + k % 9}T10:00:00Z",
                "authors": [{"name": f"{p}author {r}", "url": _unsafe(n)}],
                "author": {"name": f"{p}old author", "url": _unsafe(n)},
                "tags": [f"{p}tag", r, "\x00nul\x00tag"],
                "attachments": [{"url": _unsafe(n + 4), "mime_type": f"audio/mpeg{p}"}],
            }
        )
    p = _payload(97)
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": f"SEEN-json feed {p} {_refs(3)}",
        "home_page_url": _unsafe(2),
        "description": p,
        "authors": [{"name": p}],
        "items": items,
    }
    # ensure_ascii=False: raw C1 and bidi characters as UTF-8; C0 become \\u escapes,
    # which a JSON parser turns back into the raw characters.
    return json.dumps(doc, ensure_ascii=False).encode()


@dataclass(frozen=True)
class HostileDoc:
    path: str
    content_type: str
    body: bytes


def hostile_feeds(per_format: int = ITEMS_PER_FORMAT) -> list[HostileDoc]:
    """The three documents (RSS, Atom, JSON Feed), items numbered apart."""
    return [
        HostileDoc("/hostile.rss", "application/rss+xml; charset=utf-8", rss(per_format, 0)),
        HostileDoc("/hostile.atom", "application/atom+xml; charset=utf-8", atom(per_format, 100)),
        HostileDoc("/hostile.json", "application/feed+json", json_feed(per_format, 200)),
    ]


def item_numbers(per_format: int = ITEMS_PER_FORMAT) -> list[int]:
    return [base + k for base in (0, 100, 200) for k in range(per_format)]


@contextmanager
def serve_hostile(per_format: int = ITEMS_PER_FORMAT) -> Iterator[list[str]]:
    """Serve the hostile documents on 127.0.0.1; yields their URLs."""
    docs = {d.path: d for d in hostile_feeds(per_format)}

    def behaviour(conn: Any, request: bytes, srv: RawServer) -> None:
        doc = docs.get(request_path(request))
        if doc is None:
            conn.sendall(response("404 Not Found"))
        else:
            conn.sendall(response("200 OK", {"Content-Type": doc.content_type}, doc.body))

    with running(RawServer(behaviour)) as (srv,):
        yield [srv.url(p) for p in docs]


# --- checks -----------------------------------------------------------------------------


def text_problems(channel: str, text: str, *, allow_tabs: bool = False) -> list[str]:
    """What is wrong with ``text`` a user would see: forbidden characters, escape remains."""
    problems = []
    for m in FORBIDDEN.finditer(text):
        if allow_tabs and m.group() == "\t":
            continue
        at = m.start()
        problems.append(f"{channel}: U+{ord(m.group()):04X} near {text[max(0, at - 20) : at]!r}")
        break
    if MARK in text:
        at = text.index(MARK)
        problems.append(f"{channel}: escape sequence remains near {text[max(0, at - 30) : at]!r}")
    return problems


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def json_problems(channel: str, lines: list[str]) -> list[str]:
    """JSON Lines: the raw text and every decoded string value must be clean (a \\u001b
    escape is a raw ESC again for whoever reads the JSON)."""
    problems = text_problems(channel, "\n".join(lines))
    for line in lines:
        for s in _strings(json.loads(line)):
            got = text_problems(f"{channel} (decoded)", s.replace("\n", " "))
            if got:
                return problems + got
    return problems


_OSC8 = re.compile(r"\x1b]8;[^;\x07\x1b]*;([^\x07\x1b]*)(?:\x07|\x1b\\)")
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_C1 = re.compile("[\x80-\x9f]")
# Well-formed sequences (what Textual draws with), then any control left over: Textual
# itself leaves only CR and LF between its sequences.
_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC
    r"|\x1b[P_X^].*?\x1b\\"  # DCS, APC, SOS, PM
    r"|\x1b[ -/]*[0-~]",  # two-character escapes
    re.DOTALL,
)
_STRAY = re.compile("[\x00-\x09\x0b\x0c\x0e-\x1f\x7f]")


def stream_problems(raw: bytes) -> list[str]:
    """What the app wrote to its terminal: none of the hostile sequences, no control
    character outside a well-formed sequence but CR and LF, no bidi or C1 character,
    and any hyperlink (OSC 8) Textual draws points to http(s)."""
    text = raw.decode("utf-8", "replace")
    problems = []
    if MARK in text:
        at = text.index(MARK)
        problems.append(f"terminal stream: hostile sequence near {text[max(0, at - 30) : at]!r}")
    between = _SEQUENCE.sub("", text)
    if m := _STRAY.search(between):
        near = between[max(0, m.start() - 30) : m.start()]
        problems.append(f"terminal stream: a stray U+{ord(m.group()):04X} after {near!r}")
    for name, pattern in (("bidi", _BIDI), ("C1", _C1)):
        if m := pattern.search(text):
            near = text[max(0, m.start() - 30) : m.start()]
            problems.append(
                f"terminal stream: {name} control U+{ord(m.group()):04X} after {near!r}"
            )
    for m in _OSC8.finditer(text):
        if m.group(1) and not is_web_url(m.group(1)):
            problems.append(f"terminal stream: a hyperlink to {m.group(1)[:60]!r}")
            break
    return problems


def is_web_url(url: str) -> bool:
    """An absolute http(s) URL with a host and nothing a terminal would obey.

    (A space may be there: ``java\\tscript:x`` is a *relative* link, resolved against
    the feed's own address, and goes to the browser as one argument.)"""
    if FORBIDDEN.search(url):
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def browser_problems(urls: list[str]) -> list[str]:
    bad = [u for u in urls if not is_web_url(u)]
    return [f"$BROWSER got {u!r}" for u in bad[:3]]


# --- scenario -----------------------------------------------------------------------------

_BODY = re.compile(r"SEEN-(\d+) body")


def subscribe(home: Home, urls: list[str]) -> Row:
    """`veille add` each hostile feed: all three formats must be read."""
    said = []
    ok = True
    for url in urls:
        ran = home.veille("add", url)
        ok = ok and ran.code == 0
        said.append(f"{url.rsplit('.', 1)[1]}: exit {ran.code}")
    n = len(home.veille("items").lines)
    want = 3 * ITEMS_PER_FORMAT
    return Row(
        f"hostile feeds subscribed ({want} items)",
        f"{'; '.join(said)}; {n} items stored",
        ok and n == want,
    )


def cli_rows(home: Home) -> list[Row]:
    """`items` and `feeds`, plain and --json: nothing a terminal would obey."""
    rows = []
    for args in (("items",), ("items", "--json"), ("feeds",), ("feeds", "--json")):
        ran = home.veille(*args)
        channel = " ".join(args)
        if "--json" in args:
            problems = json_problems(channel, ran.lines)
        else:
            problems = text_problems(channel, ran.out)
        problems += text_problems(f"{channel} stderr", ran.err)
        ok = ran.code == 0 and bool(ran.lines) and not problems
        said = "; ".join(problems) or f"{len(ran.lines)} lines, clean"
        rows.append(Row(f"hostile content: `veille {channel}`", f"exit {ran.code}; {said}", ok))
    links = [json.loads(line)["link"] for line in home.veille("items", "--json").lines]
    bad = [u for u in links if u and not is_web_url(u)]
    rows.append(
        Row(
            "hostile content: stored links",
            f"{sum(bool(u) for u in links)} http(s) links kept, {links.count('')} dropped; "
            f"unsafe kept: {bad[:2]}",
            not bad,
        )
    )
    return rows


def app_rows(home: Home) -> list[Row]:
    """Walk every item in the real app (tmux), opening its link and links 1-3.

    ``$BROWSER`` is a script that records what it is given; tmux records every byte
    the app writes.  Needs tmux (skipped rows without it).
    """
    from tests.faults.tmux import TmuxApp, have_tmux

    cases = [
        "hostile content in the app: every item shown",
        "hostile content in the app: terminal stream",
        "hostile content in the app: window title",
        "hostile content in the app: $BROWSER",
        "hostile content in the app: quits cleanly",
    ]
    if not have_tmux():
        return [Row(c, "skipped: tmux is absent", True, skipped=True) for c in cases]
    record, opened = home.root / "stream.bin", home.root / "opened"
    browser = home.root / "record-browser"
    browser.write_text(f"#!/bin/sh\nprintf '%s\\0' \"$@\" >> '{opened}'\n")
    browser.chmod(0o755)
    numbers = set(item_numbers())
    seen: set[str] = set()
    with TmuxApp(home.root, record=record, env={"BROWSER": str(browser)}) as app:

        def shown(screen: str) -> str | None:
            m = _BODY.search(screen)
            return m.group(1) if m else None

        app.wait_for(lambda s: shown(s) is not None, 30)
        current = shown(app.screen())
        for _ in range(len(numbers)):
            seen.add(current or "")
            app.keys("o", "1", "o", "2", "o", "3", "o")
            app.keys("j")
            before = current
            if not app.wait_for(lambda s: shown(s) not in (None, before), 5):  # noqa: B023
                break  # the last item: j does not move
            current = shown(app.screen())
        title = app.title()
        app.keys("q")
        app.wait_for(lambda s: app.exit_code() is not None, 15)
        code = app.exit_code()
        left = app.pids()
    raw = record.read_bytes() if record.exists() else b""
    given = opened.read_bytes().split(b"\0") if opened.exists() else []
    urls = [u.decode("utf-8", "replace") for u in given if u]
    missing = sorted(numbers - {int(n) for n in seen if n})
    problems = stream_problems(raw)
    bad_urls = browser_problems(urls)
    safe_seen = sum(u.startswith(SAFE_PREFIX) for u in urls)
    return [
        Row(
            cases[0],
            f"{len(numbers) - len(missing)} of {len(numbers)} item bodies on screen"
            + (f"; never shown: {missing[:8]}" if missing else ""),
            not missing,
        ),
        Row(
            cases[1],
            "; ".join(problems) or f"{len(raw):,} bytes, no hostile sequence, bidi or C1",
            bool(raw) and not problems,
        ),
        Row(cases[2], repr(title.strip()[:60]), MARK not in title and LEFTOVER not in title),
        Row(
            cases[3],
            "; ".join(bad_urls)
            or f"{len(urls)} URLs, all http(s) ({safe_seen} of them ok.example)",
            not bad_urls and safe_seen > 0,
        ),
        Row(cases[4], f"exit {code}; processes left: {left}", code == 0 and not left),
    ]


@scenario(ci=False)
def hostile_content() -> list[Row]:
    """51 hostile items (RSS, Atom, JSON Feed) through `items`, `feeds`, the app's
    terminal and $BROWSER. CI: tests/test_hostile_content.py."""
    with Home() as home, serve_hostile() as urls:
        rows = [subscribe(home, urls)]
        rows += cli_rows(home)
        rows += app_rows(home)
    return rows
