"""Mute rules and keyword alerts: what a rule is, and which items it matches.

A *mute* rule hides matching items from every view and count while it exists
(newsboat's ignore-article, Feedly's mute filters); removing it brings them
back.  An *alert* stars or tags matching items as they arrive and the app
counts its unread matches in the status bar.  A rule looks at one field:

* ``feed``: the item came through that feed (a Feed id);
* ``tag``: the item, or a feed it came through, has that tag;
* ``author``: the item's author, or the person who posted it, is that name
  (case-insensitive; a leading ``@`` is ignored);
* ``title`` / ``text``: a regular expression found in the title, or in the
  title, summary and the words of the posts that shared it (case-insensitive
  unless the pattern says ``(?-i)``).

Mutes need *every* place an item came through to be muted: an article muted in
one noisy feed but also published by a feed you value stays visible.  Alerts
fire when *any* does.  Patterns come from users, so each search runs with a
time limit (the ``regex`` package's ``timeout``): a pattern with catastrophic
backtracking (``(a|aa)+$``) raises :class:`RuleTooSlow` instead of hanging
the app; the store then stops applying that rule and says so.

Pure: no I/O, nothing of veille beyond the domain.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the package loads with the first rule (14 ms of every start-up)
    import regex

from veille.domain.errors import VeilleError
from veille.domain.text import clean_line

RULE_KINDS = ("mute", "alert")
MATCH_FIELDS = ("feed", "tag", "author", "title", "text")
REGEX_FIELDS = frozenset({"title", "text"})
#: Seconds one search may take.  Item text is short (a title, a 300-character
#: summary, a few posts): a sane pattern takes microseconds; 50 ms means
#: runaway backtracking.
MATCH_TIMEOUT = 0.05
MAX_PATTERN = 1000  # characters


class RuleError(VeilleError):
    """A rule that cannot be used; the message is one line naming the problem."""


class RuleTooSlow(RuleError):
    """A rule's pattern ran past MATCH_TIMEOUT on some text."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One mute rule or alert.  ``id`` is stable (``veille rules remove N``)."""

    id: int
    kind: str  # one of RULE_KINDS
    field: str  # one of MATCH_FIELDS
    value: str  # a Feed id, a tag, an author, or a pattern
    star: bool = False  # an alert that stars what it matches
    tag: str = ""  # an alert that tags what it matches
    created: str | None = None
    label: str = ""  # how to show ``value`` (a feed's URL rather than its id)
    stopped: str = ""  # why it no longer applies to new items (too slow), or ""

    @property
    def dynamic(self) -> bool:
        """Applied from indexes at every view (cheap set lookups), not recorded on
        items at ingest: a feed or tag mute follows feeds' tags as they change."""
        return self.kind == "mute" and self.field in ("feed", "tag")

    def describe(self) -> str:
        """One line for lists: ``mute title ~ /llm/``, ``alert author = Jane → star``."""
        shown = self.label or self.value
        if self.field in REGEX_FIELDS:
            what = f"{self.field} ~ /{shown}/"
        else:
            what = f"{self.field} = {shown}"
        if self.kind == "alert":
            acts = [
                a for a in ("star" if self.star else "", f"tag {self.tag}" if self.tag else "") if a
            ]
            what += " → " + (", ".join(acts) if acts else "count")
        return f"{self.kind} {what}"

    def listed(self, matched: int, unread: int | None = None) -> str:
        """Its line in a list of rules, with what it does now: ``3  mute title ~
        /llm/  (12 items hidden)``, ``4  alert ...  (3 unread · 10 matched)``
        (the app's rules view and ``veille rules`` say the same)."""
        if self.kind == "mute":
            effect = f"{matched:,} item{'s' if matched != 1 else ''} hidden"
        else:
            effect = f"{unread or 0:,} unread · {matched:,} matched"
        stopped = f"  [{clean_line(self.stopped)}]" if self.stopped else ""
        return f"{self.id:>3}  {clean_line(self.describe())}  ({effect}){stopped}"

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Rule:
        kw = {k: doc[k] for k in _RULE_FIELDS if k in doc and doc[k] is not None}
        return cls(**kw)

    def to_doc(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in _RULE_FIELDS}


_RULE_FIELDS = tuple(f.name for f in fields(Rule))


@dataclass(frozen=True, slots=True)
class Subject:
    """What rules look at in one item (built by the store from its document)."""

    title: str = ""
    text: str = ""  # title, summary and the posts' words, one string
    author: str = ""  # the item's author
    voices: tuple[frozenset[str], ...] = ()  # per post that shared it: the names it goes by
    sources: frozenset[str] = frozenset()  # Feed ids it came through
    tags: frozenset[str] = frozenset()  # its own tags
    source_tags: tuple[frozenset[str], ...] = ()  # per source: that feed's tags


def name_key(name: str) -> str:
    """How author names compare: case-insensitive, without a leading ``@``."""
    return name.strip().lstrip("@").casefold()


def compile_pattern(pattern: str) -> regex.Pattern[str]:
    """The compiled pattern, or a RuleError naming what is wrong with it."""
    if not pattern:
        raise RuleError("the pattern is empty")
    if len(pattern) > MAX_PATTERN:
        raise RuleError(
            f"the pattern is too long ({len(pattern)} characters, at most {MAX_PATTERN})"
        )
    import regex

    try:
        return regex.compile(pattern, regex.IGNORECASE)
    except regex.error as exc:
        pos = getattr(exc, "pos", None)  # set by the regex package, absent from its stubs
        where = f" at position {pos}" if pos is not None else ""
        msg = getattr(exc, "msg", None) or str(exc)
        raise RuleError(f"bad regular expression {pattern!r}: {msg}{where}") from None


def check_rule(rule: Rule) -> None:
    """Refuse a rule that could never work, with one line."""
    if rule.kind not in RULE_KINDS:
        raise RuleError(f"unknown kind of rule {rule.kind!r} (use mute or alert)")
    if rule.field not in MATCH_FIELDS:
        raise RuleError(f"a rule matches one of {', '.join(MATCH_FIELDS)}, not {rule.field!r}")
    if not rule.value.strip():
        raise RuleError(f"say which {rule.field} the rule matches")
    if rule.field in REGEX_FIELDS:
        compile_pattern(rule.value)
    if rule.kind == "mute" and (rule.star or rule.tag):
        raise RuleError("a mute rule hides items; --star and --tag are for alerts")


class RuleSet:
    """Compiled rules, to test many items against (one ingest batch, one scan).

    A rule whose pattern times out is put in ``too_slow`` and skipped from then
    on: one runaway pattern costs MATCH_TIMEOUT once, not once per item.
    """

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = [r for r in rules if not r.stopped]
        self._patterns: dict[int, regex.Pattern[str]] = {}
        self.too_slow: set[int] = set()
        for r in self.rules:
            if r.field in REGEX_FIELDS:
                try:
                    self._patterns[r.id] = compile_pattern(r.value)
                except RuleError:
                    self.too_slow.add(r.id)  # stored before a check existed: never apply

    def __bool__(self) -> bool:
        return bool(self.rules)

    def of_kind(self, kind: str, *, recorded: bool = True) -> list[Rule]:
        """Rules of ``kind``; ``recorded``: only those applied at ingest (not dynamic)."""
        return [r for r in self.rules if r.kind == kind and not (recorded and r.dynamic)]

    def matching(self, subject: Subject, rules: Iterable[Rule]) -> list[Rule]:
        """The rules among ``rules`` that match; slow ones are skipped and noted."""
        out = []
        for r in rules:
            if r.id in self.too_slow:
                continue
            try:
                if self.matches(r, subject):
                    out.append(r)
            except RuleTooSlow:
                self.too_slow.add(r.id)
        return out

    def matches(self, rule: Rule, s: Subject) -> bool:
        """Whether ``rule`` matches the item; raises RuleTooSlow on a runaway pattern."""
        every = rule.kind == "mute"
        if rule.field == "feed":
            return (s.sources == {rule.value}) if every else rule.value in s.sources
        if rule.field == "tag":
            if rule.value in s.tags:
                return True
            per_source = [rule.value in t for t in s.source_tags]
            return bool(per_source) and (all(per_source) if every else any(per_source))
        if rule.field == "author":
            want = name_key(rule.value)
            if s.author and name_key(s.author) == want:
                return True
            said = [want in v for v in s.voices]
            return bool(said) and (all(said) if every else any(said))
        pattern = self._patterns.get(rule.id)
        if pattern is None:
            pattern = self._patterns[rule.id] = compile_pattern(rule.value)
        text = s.title if rule.field == "title" else s.text
        try:
            return pattern.search(text, timeout=MATCH_TIMEOUT) is not None
        except TimeoutError:
            raise RuleTooSlow(
                f"the pattern /{rule.value}/ took too long on one item "
                "(nested repetition such as (a|aa)+ can take forever): simplify it"
            ) from None
