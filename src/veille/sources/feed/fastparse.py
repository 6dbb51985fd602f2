"""A faster engine under feedparser's own handlers, for well-formed RSS and Atom.

Why: about 57% of a cold refresh's CPU goes to feedparser's SAX layer: expat
calls back into Python for every text chunk and entity (hundreds of calls per
HTML body), and every element goes through generic tag mapping, attribute
normalisation, ``getattr`` dispatch, ``copy.deepcopy`` and ``FeedParserDict``
lookups.  Other parsers were measured and rejected because they change ~3% of
entry keys (xml:base on ids, Atom links in RSS, attribute entities), and a
changed key resurfaces read items as new.

How: the document is parsed by lxml into a tree, in C, and walked once.  The
walk replays exactly the events feedparser's strict parser would receive
(namespace declarations, element starts with feedparser's own tag and
attribute naming, text, ends) into a subclass of feedparser's
``_FeedParserMixin``.  Only the engine is replaced: the element stack,
``pop()``, ``push_content()`` and the tag dispatch; every ``_start_*``/``_end_*``
handler that decides what a field means is feedparser's own code (only the
two that create an entry are restated, to create a plain dict).  That is what makes the
output identical, and why feedparser is pinned: this module leans on its
internals and disables itself on a version it was not checked against.

What it declines (``None`` back, the caller uses feedparser):
* anything feedparser would not parse with its strict parser: an encoding it
  cannot decode, XML that expat rejects (then feedparser's loose parser runs);
* a DOCTYPE or ENTITY declaration (feedparser rewrites those);
* markup inside a text construct (Atom xhtml content, unescaped HTML in RSS),
  base64 content, inline SVG/MathML: feedparser re-serialises those itself;
* versions other than RSS 0.9x/1.0/2.0 and Atom 1.0;
* anything that raises on the way, so feedparser gets to decide.

``VEILLE_FAST_PARSE=0`` in the environment turns it off (an escape hatch, and
a way to time a refresh without it).

``tests/test_parser_identity.py`` compares both paths field by field over the
whole corpus; run it after any change here or to the feedparser pin.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
from typing import Any
from xml.parsers import expat

import feedparser
from feedparser.encodings import convert_to_utf8
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.parsers.strict import _StrictFeedParser
from feedparser.urls import _urljoin, make_safe_absolute_uri
from feedparser.util import FeedParserDict
from lxml import etree

from veille.domain.errors import VeilleError

__all__ = ["ENABLED", "parse"]

# feedparser releases whose internals this engine was checked against (mixin.py,
# namespaces/, encodings.py, sanitizer.replace_doctype, strict.py).
VERIFIED_FEEDPARSER = frozenset({"6.0.11", "6.0.12", "6.0.13", "6.0.14"})

# Versions the fast path accepts: the shapes the identity test covers.
ACCEPTED_VERSIONS = frozenset(
    {"rss090", "rss091u", "rss092", "rss093", "rss094", "rss20", "rss", "rss10", "atom10"}
)

_MAX_DEPTH = 200  # deeper trees are not feeds we want to special-case
_C1 = re.compile("[\x80-\x9f]")
_DECLARATION = re.compile(rb"<!(?i:doctype|entity)")
_AMP_ENTITY = re.compile("&([A-Za-z0-9_]+);")
_XML_NS = "http://www.w3.org/XML/1998/namespace"
_XLINK_NS = "http://www.w3.org/1999/xlink"
_XHTML_TYPE = "application/xhtml+xml"
_IMAGE_CHILDREN = ("title", "link", "description", "url", "href", "width", "height")


log = logging.getLogger(__name__)


class Declined(VeilleError):
    """The fast path cannot promise feedparser's result for this document."""


# VEILLE_FAST_PARSE=0 turns the fast path off (everything through feedparser).
if feedparser.__version__ not in VERIFIED_FEEDPARSER:
    _DISABLED = f"feedparser {feedparser.__version__} is not verified for the fast path"
elif os.environ.get("VEILLE_FAST_PARSE", "1").strip().lower() in ("0", "no", "off", "false"):
    _DISABLED = "fast path turned off by VEILLE_FAST_PARSE"
else:
    _DISABLED = ""
ENABLED = not _DISABLED

_MATCH: dict[str, str] = {k.lower(): v for k, v in _FeedParserMixin.namespaces.items()}
_CAN_BE_RELATIVE = frozenset(_FeedParserMixin.can_be_relative_uri)
_KEYMAP: dict[str, str | list[str]] = FeedParserDict.keymap
_looks_like_html = _FeedParserMixin.looks_like_html
_normalize_attributes = _StrictFeedParser._normalize_attributes
_EVENTS = ("start-ns", "start", "end")
_local = threading.local()  # an lxml parser must not be shared between threads


def _xml_parser() -> Any:
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            remove_comments=True,  # expat's ContentHandler never sees them either
            remove_pis=True,
            collect_ids=False,
        )
    return parser


def parse(data: bytes, headers: dict[str, str]) -> tuple[Any, str]:
    """``(result, "")`` shaped like ``feedparser.parse()``'s, or ``(None, reason)``.

    ``headers`` are the response headers exactly as they would be handed to
    feedparser (lower-case keys).  ``result`` holds ``feed``, ``entries``,
    ``version``, ``bozo`` and ``bozo_exception`` with feedparser's values.
    """
    if not ENABLED:
        return None, _DISABLED
    try:
        return _parse(data, headers), ""
    except Declined as exc:
        return None, str(exc)
    except Exception as exc:  # feedparser will decide (and may fail the same way)
        log.debug("fast path gave up; feedparser takes over", exc_info=True)
        return None, f"engine error: {type(exc).__name__}"


def _parse(data: bytes, headers: dict[str, str]) -> Any:
    result = FeedParserDict(bozo=False, entries=[], feed=FeedParserDict(), headers={})
    result["headers"].update(headers)
    data = convert_to_utf8(result["headers"], data, result)
    if not result["encoding"]:
        raise Declined("encoding unknown (loose parser)")
    # feedparser rewrites DOCTYPE and ENTITY declarations it finds on a line of their
    # own before the root element; any such declaration is left to it.
    start = re.search(rb"<\w", data)
    head = data[: start.start() if start else 0]
    if b"<!" in head and _DECLARATION.search(head):
        raise Declined("DOCTYPE or ENTITY declaration")
    # feedparser's strict parser is expat: its verdict on well-formedness, at C speed.
    checker = expat.ParserCreate(None, " ")
    checker.namespace_prefixes = True
    try:
        checker.Parse(data, True)
    except expat.ExpatError as exc:
        raise Declined(f"not well-formed for expat ({exc.code})") from None
    try:
        root = etree.fromstring(data, _xml_parser())
    except etree.XMLSyntaxError as exc:
        raise Declined(f"lxml refused it: {exc}") from None
    engine = _Engine(result["headers"])
    engine.run(root)
    if engine.version not in ACCEPTED_VERSIONS:
        raise Declined(f"version {engine.version or 'unknown'}")
    # FeedParserDict wrappers, as feedparser's: veille reads "enclosures" through one.
    result["feed"] = FeedParserDict(engine.feeddata)
    result["entries"] = [FeedParserDict(e) for e in engine.entries]
    result["version"] = engine.version
    result["namespaces"] = engine.namespaces_in_use
    return result


class _Engine(_FeedParserMixin):  # type: ignore[misc]  # feedparser has no types
    """feedparser's handlers, driven from an lxml tree instead of SAX callbacks.

    The methods below replace ``_StrictFeedParser`` (naming of tags and
    attributes) and the generic parts of ``_FeedParserMixin``
    (``unknown_starttag``, ``unknown_endtag``, ``pop``); each follows its
    feedparser counterpart step by step and says where it differs.

    The feed, entry and source contexts are plain dicts rather than
    ``FeedParserDict`` (whose every lookup runs Python code): no handler reads
    or writes a key that ``FeedParserDict`` treats specially, and the generic
    stores below apply its key aliases (``description`` → ``summary``...)
    themselves.  They are wrapped into ``FeedParserDict`` at the end.
    """

    def __init__(self, headers: dict[str, str]) -> None:
        # As feedparser.parse() and _StrictFeedParser.__init__, without a URL: veille
        # hides the document URL from feedparser so that guids are kept as written.
        contentloc = headers.get("content-location", "")
        self.bozo = 0
        self.exc = None
        self.decls: dict[str, str] = {}
        self.baseuri = (
            make_safe_absolute_uri("", contentloc) or make_safe_absolute_uri(contentloc) or ""
        )
        self.lang = headers.get("content-language")
        self.encoding = "utf-8"
        self.resolve_relative_uris = False
        self.sanitize_html = False
        super().__init__()
        self.feeddata: dict[str, Any] = dict(self.feeddata)
        self.sourcedata: dict[str, Any] = {}
        self.entries: list[dict[str, Any]] = []
        # Per tag: its name for dispatch and two flags; they depend on the namespaces
        # declared so far, so track_namespace() empties them.
        self._start_tags: dict[str, tuple[str, str, bool, bool]] = {}
        self._end_tags: dict[str, str] = {}
        self._join_memo: dict[tuple[str, str], str] = {}

    # --- the walk: the SAX events expat would deliver ----------------------------

    def run(self, root: Any) -> None:
        stack = self.elementstack
        element_start, element_end = self._element_start, self._element_end
        depth = 0
        for event, obj in etree.iterwalk(root, events=_EVENTS):
            if event == "start":
                depth += 1
                if depth > _MAX_DEPTH:
                    raise Declined("nesting too deep")
                element_start(obj)
                text = obj.text
                if text and stack:  # characters() → handle_data()
                    stack[-1][2].append(text)
            elif event == "end":
                depth -= 1
                element_end(obj.tag)
                tail = obj.tail
                if tail and depth and stack:
                    stack[-1][2].append(tail)
            else:
                self.startPrefixMapping(*obj)

    def startPrefixMapping(self, prefix: str | None, uri: str) -> None:
        if not uri:
            return
        prefix = prefix or None
        self.track_namespace(prefix, uri)
        if prefix and uri == _XLINK_NS:
            self.decls["xmlns:" + prefix] = uri

    def track_namespace(self, prefix: str | None, uri: str) -> None:
        super().track_namespace(prefix, uri)
        self._start_tags.clear()
        self._end_tags.clear()

    def _element_start(self, el: Any) -> None:
        """_StrictFeedParser.startElementNS: feedparser's tag and attribute names."""
        tag = el.tag
        info = self._start_tags.get(tag)
        if info is None:
            info = self._start_tags[tag] = self._tag_info(self._tag_at_start(tag))
        attrs_d, self.decls = self.decls, {}
        items = el.items()
        if items:
            qnames: list[tuple[str, str]] = []
            for key, value in items:
                if key[0] == "{":
                    ns, local = key[1:].split("}", 1)
                    prefix = _MATCH.get(ns.lower(), "")
                    attrs_d[(prefix + ":" + local if prefix else local).lower()] = value
                    qnames.append((self._attr_prefix(el, ns) + ":" + local, value))
                else:
                    attrs_d[key.lower()] = value
                    qnames.append((key, value))
            for qname, value in qnames:
                attrs_d[qname.lower()] = value
            # unknown_starttag's _normalize_attributes: rel and type values lower-cased.
            if "rel" in attrs_d:
                attrs_d["rel"] = attrs_d["rel"].lower() or attrs_d["rel"]
            if "type" in attrs_d:
                attrs_d["type"] = attrs_d["type"].lower() or attrs_d["type"]
        self._starttag(info, attrs_d)

    def _tag_at_start(self, tag: str) -> str:
        if tag[0] != "{":
            return tag.lower()
        namespace, localname = tag[1:].split("}", 1)
        lowernamespace = namespace.lower()
        if "backend.userland.com/rss" in lowernamespace:
            namespace = lowernamespace = "http://backend.userland.com/rss"
        prefix = _MATCH.get(lowernamespace)
        localname = localname.lower()
        if localname in ("math", "svg"):
            raise Declined("inline MathML/SVG")
        if prefix:
            localname = prefix.lower() + ":" + localname
        else:  # expat reports no qname: feedparser looks the namespace up
            for pname, value in self.namespaces_in_use.items():
                if pname and value == namespace:
                    localname = pname + ":" + localname
                    break
        return localname.lower()

    def _tag_at_end(self, tag: str) -> str:
        # endElementNS: no userland normalisation, and the prefix is not lowered first.
        if tag[0] != "{":
            return tag.lower()
        namespace, localname = tag[1:].split("}", 1)
        prefix = _MATCH.get(namespace.lower(), "")
        if prefix:
            localname = prefix + ":" + localname
        else:
            for pname, value in self.namespaces_in_use.items():
                if pname and value == namespace:
                    localname = pname + ":" + localname
                    break
        return localname.lower()

    def _tag_info(self, tag: str) -> tuple[str, str, bool, bool]:
        """(tag, handler name, resets intextinput, resets inimage), as unknown_starttag."""
        if ":" in tag:
            prefix, suffix = tag.split(":", 1)
        else:
            prefix, suffix = "", tag
        prefix = self.namespacemap.get(prefix, prefix)
        if prefix:
            prefix = prefix + "_"
        return (
            tag,
            prefix + suffix,
            not prefix and tag not in ("title", "link", "description", "name"),
            not prefix and tag not in _IMAGE_CHILDREN,
        )

    @staticmethod
    def _attr_prefix(el: Any, ns: str) -> str:
        """The document's prefix of a namespaced attribute (expat's qname)."""
        if ns == _XML_NS:
            return "xml"
        prefixes = [p for p, u in el.nsmap.items() if u == ns and p]
        if len(prefixes) != 1:
            raise Declined("ambiguous attribute prefix")
        return str(prefixes[0])

    def _element_end(self, tag: str) -> None:
        name = self._end_tags.get(tag)
        if name is None:
            name = self._end_tags[tag] = self._handler_name(self._tag_at_end(tag))
        self._endtag(name)

    def _handler_name(self, tag: str) -> str:
        return self._tag_info(tag)[1]

    # --- _FeedParserMixin.unknown_starttag / unknown_endtag -----------------------

    def _join(self, base: str, rel: str) -> str:
        """The xml:base bookkeeping done for every element, memoised."""
        key = (base, rel)
        out = self._join_memo.get(key)
        if out is None:
            out = (make_safe_absolute_uri(base, rel) or base) if base else _urljoin(base, rel)
            self._join_memo[key] = out
        return out

    def unknown_starttag(self, tag: str, attrs: list[tuple[str, str]]) -> None:
        """feedparser's entry point, kept for handlers that call it."""
        attrs_d = dict(_normalize_attributes(attr) for attr in attrs)
        self._starttag(self._tag_info(tag), attrs_d)

    def _starttag(self, info: tuple[str, str, bool, bool], attrs_d: dict[str, str]) -> None:
        tag, name, resets_textinput, resets_image = info
        self.depth += 1
        if attrs_d:
            baseuri = attrs_d.get("xml:base", attrs_d.get("base")) or self.baseuri
            lang = attrs_d.get("xml:lang", attrs_d.get("lang"))
        else:
            baseuri, lang = self.baseuri, None
        if baseuri:  # _urljoin("", "") is "": nothing to do
            self.baseuri = self._join(self.baseuri, baseuri)
        if lang == "":
            lang = None
        elif lang is None:
            lang = self.lang
        if lang and tag in ("feed", "rss", "rdf:RDF"):
            self.feeddata["language"] = lang.replace("_", "-")
        self.lang = lang
        self.basestack.append(self.baseuri)
        self.langstack.append(lang)
        if attrs_d:
            for prefix, uri in list(attrs_d.items()):
                if prefix.startswith("xmlns:"):
                    self.track_namespace(prefix[6:], uri)
                elif prefix == "xmlns":
                    self.track_namespace(None, uri)
        if self.incontent:
            # feedparser turns the text construct into xhtml and re-serialises it.
            raise Declined("markup inside a text construct")
        if resets_textinput:
            self.intextinput = 0
        if resets_image:
            self.inimage = 0
        method = _START.get(name)
        if method is not None:
            try:
                method(self, attrs_d)
                return
            except AttributeError:  # feedparser's try block around getattr and the call
                pass
        if not attrs_d:
            self.push(name, 1)
        else:
            _store(self._get_context(), name, attrs_d)

    def unknown_endtag(self, tag: str) -> None:
        """feedparser's entry point, kept for handlers that call it."""
        self._endtag(self._handler_name(tag))

    def _endtag(self, name: str) -> None:
        method = _END.get(name)
        if method is None:
            self.pop(name)
        else:
            try:
                method(self)
            except AttributeError:
                self.pop(name)
        if self.incontent:
            raise Declined("text construct left open")
        basestack = self.basestack
        if basestack:
            basestack.pop()
            if basestack and basestack[-1]:
                self.baseuri = basestack[-1]
        langstack = self.langstack
        if langstack:
            langstack.pop()
            if langstack:
                self.lang = langstack[-1]
        self.depth -= 1

    # --- handlers that create the entry (feedparser's make a FeedParserDict) --------

    def _start_item(self, attrs_d: dict[str, str]) -> None:
        self.entries.append({})
        self.push("item", 0)
        self.inentry = 1
        self.guidislink = 0
        self.title_depth = -1
        ident = self._get_attribute(attrs_d, "rdf:about")
        if ident:
            self._get_context()["id"] = ident
        self._cdf_common(attrs_d)

    _start_entry = _start_item

    # --- _FeedParserMixin.push_content / pop -----------------------------------

    def push_content(
        self, tag: str, attrs_d: dict[str, str], default_content_type: str, expecting_text: int
    ) -> None:
        # _FeedParserMixin.push_content and _is_base64, with a plain dict for the
        # parameters (copied into FeedParserDicts when stored, as feedparser's are).
        self.incontent += 1
        if self.lang:
            self.lang = self.lang.replace("_", "-")
        ctype = self.map_content_type(attrs_d.get("type", default_content_type))
        if ctype == _XHTML_TYPE:
            raise Declined("xhtml text construct")
        if attrs_d.get("mode", "") == "base64" or not (
            ctype.startswith("text/") or ctype.endswith("+xml") or ctype.endswith("/xml")
        ):
            raise Declined("base64 text construct")
        self.contentparams = {"type": ctype, "language": self.lang, "base": self.baseuri}
        self.contentparams["base64"] = 0
        self.elementstack.append([tag, expecting_text, []])

    def pop(self, element: str, strip_whitespace: int = 1) -> Any:
        stack = self.elementstack
        if not stack or stack[-1][0] != element:
            return None
        element, expecting_text, pieces = stack.pop()
        params = self.contentparams
        # (feedparser: bytes pieces and xhtml <div> unwrapping; neither happens here.)
        output = "".join(pieces)
        if strip_whitespace:
            output = output.strip()
        if not expecting_text:
            return output
        if params and params.get("base64", 0):
            raise Declined("base64 text")
        if output and element in _CAN_BE_RELATIVE and (element != "id" or self.guidislink):
            output = self.resolve_uri(output)
        if params:
            if (
                params.get("type") == "text/plain"
                and not self.version.startswith("atom")
                and _looks_like_html(output)
            ):
                params["type"] = "text/html"
            params.pop("mode", None)
            params.pop("base64", None)
        # (relative URIs in HTML are not resolved and HTML is not sanitised:
        # veille asks feedparser for neither.)
        if not output.isascii():
            # Text that was UTF-8 read as ISO-8859-1, then cp1252 glyphs for C1.
            with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
                output = output.encode("iso-8859-1").decode("utf-8")
            if _C1.search(output):
                output = output.translate(_cp1252)
        if element in ("category", "tags", "itunes_keywords"):
            return output
        if element == "title" and -1 < self.title_depth <= self.depth:
            return output
        if self.inentry and not self.insource:
            entry = self.entries[-1]
            if element == "content":
                detail = FeedParserDict(params)
                detail["value"] = output
                entry.setdefault("content", []).append(detail)
            elif element == "link":
                if not self.inimage:
                    output = output.replace("&amp;", "&")
                    if "&" in output:
                        output = _AMP_ENTITY.sub(r"&\g<1>", output)
                    entry["link"] = output
                    if output:
                        entry["links"][-1]["href"] = output
            else:
                if element == "description":
                    element = "summary"
                depths = self.property_depth_map.get(id(entry))
                if depths is None:
                    depths = self.property_depth_map[id(entry)] = {}
                old_value_depth = depths.get(element)
                if old_value_depth is None or self.depth <= old_value_depth:
                    depths[element] = self.depth
                    _store(entry, element, output)
                if self.incontent:
                    detail = FeedParserDict(params)
                    detail["value"] = output
                    _store(entry, element + "_detail", detail)
        elif self.infeed or self.insource:
            context = self._get_context()
            if element == "description":
                element = "subtitle"
            _store(context, element, output)
            if element == "link":
                if "&" in output:
                    output = _AMP_ENTITY.sub(r"&\g<1>", output)
                _store(context, element, output)
                context["links"][-1]["href"] = output
            elif self.incontent:
                detail = FeedParserDict(params)
                detail["value"] = output
                _store(context, element + "_detail", detail)
        return output

    def resolve_uri(self, uri: str) -> str:
        base = self.baseuri or ""
        if not base and ":///" not in uri:
            # _urljoin("", uri) only drops extra slashes after "scheme://".
            return uri
        return str(_urljoin(base, uri))


def _store(context: dict[str, Any], key: str, value: Any) -> None:
    """``context[key] = value`` as a FeedParserDict does it: through its key aliases."""
    alias = _KEYMAP.get(key)
    if alias is not None:
        key = alias[0] if isinstance(alias, list) else alias
    context[key] = value


# feedparser dispatches with getattr(self, "_start_" + name): the same names here,
# bound to the same functions except the entry constructors above.
_START = {n[7:]: getattr(_Engine, n) for n in dir(_Engine) if n[:7] == "_start_"}
_END = {n[5:]: getattr(_Engine, n) for n in dir(_Engine) if n[:5] == "_end_"}
