"""OPML 1.0/2.0 subscription lists: import (strict, all-or-nothing) and export.

Import rules, chosen so that real exports from other readers come in whole:

* an ``<outline>`` with a non-empty ``xmlUrl`` (any capitalisation: LiveJournal writes
  ``xmlURL``) is a feed, whatever its ``type`` (WordPress says ``link``, Liferea ``pie``),
  except ``type="source"``, which Liferea uses for a nested subscription *list*;
* every other outline is a folder: its ``text`` (else ``title``) becomes a tag of every
  feed below it, at any depth, and the path of folders (``Blogs`` > ``Apple``) is kept
  as the feed's :attr:`OutlineFeed.folder`, so an export nests it the same way;
* a ``category`` attribute adds tags per OPML 2.0: ``"/a/b,c"`` gives ``a``, ``b``, ``c``;
* a URL met twice is one feed whose tags are merged (first title wins);
* ``feed://`` and ``feed:https://`` URLs are rewritten to http(s); any other non-http(s)
  URL (``|cmd`` pipes, ``file:``, relative paths) is not a feed we can poll: it lands in
  :attr:`OpmlDocument.skipped` with a reason, so the CLI can tell the user.

Parsing is XML (expat) and the whole file is read before anything is returned, so an
import is all-or-nothing. Real lists are often not well-formed (plenaryapp's
awesome-rss-feeds: bare ``&``, quotes and HTML pasted into ``description``), so a file
that fails gets one pass of *lexical* repair (see :func:`_parse_xml`) and a second try;
*structural* damage (unclosed or mismatched tags, truncation, two documents, not XML at
all) still raises :class:`OpmlError`, a one-liner naming the line and column (1-based).
Also accepted: HTML named entities (``&aelig;``), UTF-16, and encodings expat lacks
(Shift_JIS...). DTDs that declare entities are refused (billion laughs, external files).
"""

from __future__ import annotations

import codecs
import html.entities
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.parsers import expat

from veille.domain.errors import VeilleError
from veille.render.hygiene import clean_line
from veille.util.urls import UrlError, http_url

__all__ = [
    "OpmlDocument",
    "OpmlError",
    "OutlineFeed",
    "SkippedOutline",
    "parse_opml",
    "read_opml",
    "write_opml",
]


@dataclass
class OutlineFeed:
    """One subscription: the feed URL, its display title, its site and its tags."""

    url: str  # xmlUrl
    title: str = ""
    site_url: str = ""  # htmlUrl
    tags: list[str] = field(default_factory=list)
    folder: list[str] = field(default_factory=list)  # folders it sits in, outermost first


@dataclass
class SkippedOutline:
    """An outline that names a URL we will not subscribe to, and why (one line)."""

    url: str
    title: str
    reason: str


@dataclass
class OpmlDocument:
    """Everything :func:`read_opml` found: the feeds, what it skipped, the list's title."""

    feeds: list[OutlineFeed] = field(default_factory=list)
    skipped: list[SkippedOutline] = field(default_factory=list)
    title: str = ""


class OpmlError(VeilleError):
    """The file cannot be imported; the message is one line, naming the place if known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.line = line
        self.column = column  # 1-based, as editors count


def _feed_url(value: str | None) -> tuple[str, str]:
    """(the http(s) URL, "") or ("", why it is not one): see :func:`veille.util.urls.http_url`."""
    try:
        return http_url(value or "", bare=False), ""
    except UrlError as exc:
        return "", exc.reason


def parse_opml(data: bytes) -> list[OutlineFeed]:
    """The feeds of an OPML file (see :func:`read_opml` for what was skipped)."""
    return read_opml(data).feeds


def read_opml(data: bytes) -> OpmlDocument:
    """Parse a whole OPML file; raise :class:`OpmlError` before returning anything."""
    root = _parse_xml(data)
    if _local(root.tag).lower() != "opml":
        raise OpmlError(f"not an OPML file (root element is <{clean_line(root.tag)}>)")
    head = _child(root, "head")
    body = _child(root, "body")
    if body is None:
        raise OpmlError("not a usable OPML file: it has no <body> element")
    doc = OpmlDocument()
    if head is not None:
        title = _child(head, "title")
        if title is not None:
            doc.title = clean_line(title.text)
    by_url: dict[str, OutlineFeed] = {}
    _walk(body, by_url, doc.skipped)
    doc.feeds = list(by_url.values())
    return doc


def _walk(body: ET.Element, by_url: dict[str, OutlineFeed], skipped: list[SkippedOutline]) -> None:
    """Visit outlines in document order; iterative, so deep nesting cannot overflow."""
    stack: list[tuple[Iterator[ET.Element], list[str], list[str]]] = [(iter(body), [], [])]
    while stack:
        children, tags, path = stack[-1]
        outline = next(children, None)
        if outline is None:
            stack.pop()
            continue
        if _local(outline.tag) != "outline":
            continue
        attrs = {_local(k).lower(): v for k, v in outline.attrib.items()}
        label = clean_line(attrs.get("text")) or clean_line(attrs.get("title"))
        raw_url = clean_line(attrs.get("xmlurl"))
        if not raw_url:
            # A folder (or a note): its label tags every feed below it.
            labels = [label] if label else []
            stack.append((iter(outline), _merge(tags, labels), path + labels))
            continue
        if (attrs.get("type") or "").strip().lower() == "source":
            skipped.append(SkippedOutline(raw_url, label, "a subscription list, not a feed"))
        elif not (found := _feed_url(raw_url))[0]:
            skipped.append(SkippedOutline(raw_url, label, found[1]))
        else:
            url = found[0]
            own = _merge(tags, _categories(attrs.get("category")))
            site = _feed_url(clean_line(attrs.get("htmlurl")))[0]
            known = by_url.get(url)
            if known is None:
                by_url[url] = OutlineFeed(url, label, site, own, list(path))
            else:
                known.tags = _merge(known.tags, own)
                known.title = known.title or label
                known.site_url = known.site_url or site
        # Children of a feed outline are rare; keep them, tagged like their parent.
        stack.append((iter(outline), tags, path))


def _categories(value: str | None) -> list[str]:
    """OPML 2.0 ``category``: comma-separated, slash-delimited paths; each step is a tag."""
    out: list[str] = []
    for path in (value or "").split(","):
        out.extend(t for step in path.split("/") if (t := clean_line(step)))
    return _merge([], out)


def _merge(a: list[str], b: list[str]) -> list[str]:
    """``a`` then the new items of ``b``, order kept, no duplicates."""
    out = list(a)
    for t in b:
        if t not in out:
            out.append(t)
    return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def _child(node: ET.Element, name: str) -> ET.Element | None:
    for c in node:
        if isinstance(c.tag, str) and _local(c.tag).lower() == name:
            return c
    return None


# --- safe XML, with lexical repairs ---------------------------------------------------------

_XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})
_NAMED_REF = re.compile(r"&([A-Za-z][A-Za-z0-9]{1,31});")
_BARE_AMP = re.compile(r"&(?!(?:[A-Za-z_][\w.-]*|#[0-9]+|#x[0-9A-Fa-f]+);)")
_DECL_ENCODING = re.compile(rb"^[ \t\r\n]*<\?xml[^>]*?encoding[ \t\r\n]*=[ \t\r\n]*[\"']([\w.:-]+)")
_DROP_DECL_ENCODING = re.compile(r"^(\s*<\?xml[^>]*?)\s+encoding\s*=\s*[\"'][^\"']*[\"']")
_UNKNOWN_ENCODING = expat.errors.codes[expat.errors.XML_ERROR_UNKNOWN_ENCODING]
_WS = "[ \t\r\n]"
_NAME = re.compile(r"[A-Za-z_:][\w.:-]*")
_ATTR_NAME = re.compile(r"[^ \t\r\n=/>\"'<]+")
_VALUE_END = re.compile(rf"{_WS}*/?>|{_WS}+[^ \t\r\n=/>\"'<]+{_WS}*=")
_SPACES = re.compile(f"{_WS}*")
# Characters XML 1.0 forbids even as references (controls other than \t \n \r).
_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
_BAD_CHAR_REFS = re.compile(
    r"&#(?:0*(?:[0-8]|1[1-2]|1[4-9]|2[0-9]|3[01])|x0*(?:[0-8bcBCe-fE-F]|1[0-9a-fA-F]));"
)
_EQUALS = re.compile(f"{_WS}*={_WS}*")
_UNQUOTED = re.compile(rf"[^ \t\r\n>]*?(?=/>|>|{_WS}|$)")
_SKIP_THROUGH = (("<!--", "-->"), ("<![CDATA[", "]]>"), ("<?", "?>"), ("</", ">"))


class _Refused(VeilleError):
    pass


class _Failed(VeilleError):
    def __init__(self, reason: str, line: int, column: int, code: int = 0):
        super().__init__(reason)
        self.line, self.column, self.code = line, column, code


def _parse_xml(data: bytes) -> ET.Element:
    """Parse with expat; on a well-formedness error, repair the lexical slips common in
    hand-written and scraped OPML and try once more. Structural errors still raise.

    Repairs (never applied to a file that parses as is): control characters XML forbids
    (raw or as ``&#27;``) are dropped; a bare ``&`` or an unknown entity becomes text;
    ``<`` inside an attribute value or text is escaped; a quote inside an attribute value
    that is not followed by another attribute or the end of the tag (or that sits in HTML
    pasted into the value) is part of the value; an attribute with no value gets "".
    """
    if not data.strip():
        raise OpmlError("not an OPML file: it is empty")
    doc: bytes | str = data
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        doc = _DROP_DECL_ENCODING.sub(r"\1", data.decode("utf-16"), count=1)
    doc = _lexical(doc, _html_refs)
    try:
        return _expat(doc)
    except _Failed as e:
        first = e
    if first.code == _UNKNOWN_ENCODING and isinstance(doc, bytes):
        doc = _decode_declared(doc)
        try:
            return _expat(doc)
        except _Failed as e:
            first = e
    if first.code == -1:  # refused DTD: never repaired
        raise _opml_error(first)
    repaired = _lexical(doc, _repair)
    if repaired == doc:
        raise _opml_error(first)
    try:
        return _expat(repaired)
    except _Failed as e:
        # Repairs keep line numbers; columns are the original's when on the same line.
        raise _opml_error(first if e.line == first.line else e) from None


def _opml_error(e: _Failed) -> OpmlError:
    return OpmlError(f"invalid OPML at line {e.line}, column {e.column}: {e}", e.line, e.column)


def _expat(doc: bytes | str) -> ET.Element:
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate()  # no namespace processing: prefixes are stripped later
    parser.buffer_text = True
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data

    def refuse(*_args: object) -> None:
        raise _Refused("refusing a DTD that declares entities (possible entity bomb)")

    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    try:
        parser.Parse(doc, True)
    except _Refused as e:
        line, col = parser.CurrentLineNumber, parser.CurrentColumnNumber + 1
        raise _Failed(str(e), line, col, -1) from None
    except expat.ExpatError as e:
        raise _Failed(expat.ErrorString(e.code), e.lineno, e.offset + 1, e.code) from None
    except ValueError as e:  # pyexpat: "multi-byte encodings are not supported"
        raise _Failed(str(e), 1, 1, _UNKNOWN_ENCODING) from None
    return builder.close()


def _lexical(doc: bytes | str, fix: Callable[[str], str]) -> bytes | str:
    """Apply a str -> str fix to bytes too: latin-1 round-trips every byte, and all the
    XML syntax we touch is ASCII, so any ASCII-compatible encoding survives."""
    if isinstance(doc, str):
        return fix(doc)
    return fix(doc.decode("latin-1")).encode("latin-1")


def _html_refs(text: str) -> str:
    """Turn HTML named entities (``&aelig;``) into numeric references expat knows."""
    if "&" not in text:
        return text

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in _XML_ENTITIES or name not in html.entities.name2codepoint:
            return m.group(0)
        return f"&#{html.entities.name2codepoint[name]};"

    return _NAMED_REF.sub(sub, text)


def _escape_text(s: str) -> str:
    s = _BARE_AMP.sub("&amp;", s)
    s = _NAMED_REF.sub(lambda m: m[0] if m[1] in _XML_ENTITIES else "&amp;" + m[0][1:], s)
    return s.replace("<", "&lt;")


def _repair(text: str) -> str:
    text = _BAD_CHARS.sub("", _BAD_CHAR_REFS.sub("", text))
    out: list[str] = []
    pos, n = 0, len(text)
    while pos < n:
        lt = text.find("<", pos)
        if lt < 0:
            out.append(_escape_text(text[pos:]))
            break
        out.append(_escape_text(text[pos:lt]))
        for opener, closer in _SKIP_THROUGH:
            if text.startswith(opener, lt):
                end = text.find(closer, lt + len(opener))
                end = n if end < 0 else end + len(closer)
                out.append(text[lt:end])
                pos = end
                break
        else:
            if text.startswith("<!", lt):  # DOCTYPE, possibly with an internal subset
                gt = text.find(">", lt)
                bracket = text.find("[", lt, gt if gt >= 0 else n)
                if bracket >= 0:
                    gt = text.find(">", max(text.find("]", bracket), bracket))
                pos = n if gt < 0 else gt + 1
                out.append(text[lt:pos])
            elif m := _NAME.match(text, lt + 1):
                pos = _repair_start_tag(text, m, out)
            else:  # a lone "<" in text
                out.append("&lt;")
                pos = lt + 1
    return "".join(out)


def _repair_start_tag(text: str, name: re.Match[str], out: list[str]) -> int:
    """Copy one start tag with its attributes made well-formed; return the next index."""
    out.append("<" + name[0])
    pos, n = name.end(), len(text)
    while pos < n:
        pos = _SPACES.match(text, pos).end()  # type: ignore[union-attr]  # always matches
        if text.startswith("/>", pos) or text.startswith(">", pos):
            end = pos + (2 if text[pos] == "/" else 1)
            out.append(text[pos:end])
            return end
        attr = _ATTR_NAME.match(text, pos)
        if not attr:  # stray quote or "<": drop the character
            pos += 1
            continue
        pos = attr.end()
        eq = _EQUALS.match(text, pos)
        if not eq:
            out.append(f' {attr[0]}=""')
            continue
        pos = eq.end()
        if pos < n and text[pos] in "\"'":
            start = pos + 1
            close = _closing_quote(text, text[pos], start)
            value = text[start:close]
            pos = close + 1
        else:
            unquoted = _UNQUOTED.match(text, pos)
            value = unquoted[0] if unquoted else ""
            pos += len(value)
        value = _escape_text(value).replace('"', "&quot;")
        out.append(f' {attr[0]}="{value}"')
    return n


def _closing_quote(text: str, quote: str, start: int) -> int:
    """Where an attribute value that opened at ``start`` really ends.

    The first quote, unless what follows it is neither another attribute nor the end of
    the tag, or it sits inside HTML markup pasted into the value (``<a href="...">``);
    then the next quote on the same line that qualifies. No such quote: the first one.
    """
    first = text.find(quote, start)
    if first < 0:
        return len(text)
    eol = text.find("\n", first)
    eol = len(text) if eol < 0 else eol
    probe = first
    while 0 <= probe < eol:
        if _VALUE_END.match(text, probe + 1) and not _inside_markup(text, start, probe):
            return probe
        probe = text.find(quote, probe + 1)
    return first


def _inside_markup(text: str, start: int, end: int) -> bool:
    """Is ``end`` inside an HTML tag opened (and not closed) after ``start``?"""
    lt = text.rfind("<", start, end)
    while lt >= 0 and not (lt + 1 < end and (text[lt + 1].isalpha() or text[lt + 1] == "/")):
        lt = text.rfind("<", start, lt)
    return lt >= 0 and text.find(">", lt, end) < 0


def _decode_declared(data: bytes) -> str:
    """Decode with the encoding the XML declaration names (one expat lacks), and drop
    that name so expat reads the text as the Unicode it now is."""
    m = _DECL_ENCODING.match(data)
    encoding = m[1].decode("ascii") if m else "?"
    try:
        text = data.decode(encoding)
    except (LookupError, UnicodeDecodeError) as e:
        raise OpmlError(f"invalid OPML: cannot decode it as {encoding}: {e}") from None
    return _DROP_DECL_ENCODING.sub(r"\1", text, count=1)


# --- export --------------------------------------------------------------------------------

_CATEGORY_UNSAFE = re.compile(r"[,/]")
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def write_opml(feeds: Iterable[OutlineFeed], title: str = "veille subscriptions") -> str:
    """Serialise ``feeds`` as OPML 2.0, with tags as folders.

    Scheme (round-trips exactly through :func:`parse_opml` for clean text: URL, title,
    site URL, folder and the *set* of tags, in order when tags are plain words):

    * a feed with a :attr:`~OutlineFeed.folder` sits in those folders, nested
      (``Blogs`` > ``Apple``), as it was in the file it came from: other readers
      import it into the same place.  Only the part of the path the feed is still
      tagged with counts (untagging ``Apple`` leaves it in ``Blogs``);
    * else a tagged feed sits in the folder of its first tag, an untagged one at
      the top;
    * ``category`` lists the path (``/Blogs/Apple``, OPML 2.0's hierarchical
      form) and every other tag (``/t``) for readers that ignore folders, when
      they hold no ``,`` or ``/`` (those are its separators);
    * a further tag that holds ``,`` or ``/`` cannot go in ``category``, so the feed
      is repeated in that tag's folder; importers merge duplicates by URL, ours
      included.

    Folders come in order of first use.
    """
    opml = ET.Element("opml", version="2.0")
    head = ET.SubElement(opml, "head")
    ET.SubElement(head, "title").text = _xml_text(title)
    ET.SubElement(head, "dateCreated").text = format_datetime(datetime.now(UTC), usegmt=True)
    ET.SubElement(head, "docs").text = "https://opml.org/spec2.opml"
    body = ET.SubElement(opml, "body")
    folders: dict[tuple[str, ...], ET.Element] = {}

    def folder(path: tuple[str, ...]) -> ET.Element:
        if path not in folders:
            parent = folder(path[:-1]) if len(path) > 1 else body
            folders[path] = ET.SubElement(parent, "outline", text=_xml_text(path[-1]))
        return folders[path]

    for feed in feeds:
        tags = _merge([], [t for t in feed.tags if t])
        path = _live_path(feed.folder, tags)
        if not path and tags:
            path = (tags[0],)
        attrs = {"type": "rss", "text": _xml_text(feed.title)}
        if feed.title:
            attrs["title"] = _xml_text(feed.title)
        attrs["xmlUrl"] = _xml_text(feed.url)
        if feed.site_url:
            attrs["htmlUrl"] = _xml_text(feed.site_url)
        categories: list[str] = []
        covered: set[str] = set()
        if len(path) > 1 and not any(_CATEGORY_UNSAFE.search(t) for t in path):
            categories.append("/" + "/".join(_xml_text(t) for t in path))
            covered.update(path)
        categories += ["/" + _xml_text(t) for t in tags if t not in covered and _safe(t)]
        if categories:
            attrs["category"] = ",".join(categories)
        if not path:
            ET.SubElement(body, "outline", attrs)
            continue
        ET.SubElement(folder(path), "outline", attrs)
        for t in tags:
            if t not in path and not _safe(t):
                ET.SubElement(folder((t,)), "outline", attrs)
    ET.indent(opml, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(opml, "unicode") + "\n"


def _safe(tag: str) -> bool:
    """Whether a tag can be written in ``category`` (no separators in it)."""
    return not _CATEGORY_UNSAFE.search(tag)


def _live_path(folder: Iterable[str], tags: list[str]) -> tuple[str, ...]:
    """The leading part of ``folder`` whose steps are all still tags of the feed."""
    out: list[str] = []
    for step in folder:
        if not step or step not in tags:
            break
        out.append(step)
    return tuple(out)


def _xml_text(s: str) -> str:
    """Drop characters XML 1.0 cannot carry at all (escaping is ElementTree's job)."""
    return _XML_INVALID.sub("", s or "")
