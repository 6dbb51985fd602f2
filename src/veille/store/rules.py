"""Mute rules and alerts in the store: kept in ``rules.json``, applied to items.

How each kind of rule reaches the items (see domain.rules for what they match):

* feed and tag mutes are *dynamic*: the index knows the muted feeds and tags
  and hides their items at every view, so tagging a feed, or a rule going away,
  takes effect at once without touching a single item;
* title, text and author mutes are *recorded*: the rule's id goes in the
  item's ``mute`` list when it arrives (and, when the rule is added, on every
  item it matches), so opening a 100,000-item store runs no regex at all;
  removing the rule takes its id off again, and the items come back;
* alerts are recorded too (``alerts``: rule id -> what it changed), on items
  that arrive and, when added, on the unread items already here: they star or
  tag the item, and removing the alert takes back exactly what it did.

Every change is logged (the last ``RULES_UNDO_DEPTH``) so ``veille rules undo``
can take it back.  Patterns that time out are refused when the rule is added,
and a rule that times out later on an incoming item is stopped (``stopped``
says why) rather than slowing every refresh.

This is a mixin of :class:`veille.store.store.Store`: it works on the store's
own partitions and indexes, under the store's lock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from veille.domain.rules import Rule, RuleError, RuleSet, RuleTooSlow, Subject, check_rule, name_key
from veille.store.index import ItemIndex, doc_sources
from veille.util.dates import iso, now

if TYPE_CHECKING:
    from veille.store.partition import Partition

log = logging.getLogger(__name__)

RULES_UNDO_DEPTH = 50
Doc = dict[str, Any]


class RulesMixin:
    """Rules storage and application; the store provides the attributes below."""

    _mu: threading.RLock
    _ix: ItemIndex
    feeds_p: Partition
    rules_p: Partition
    meta_p: Partition
    _rules_cache: tuple[int, list[Rule], RuleSet] | None
    _rules_version: int

    # provided by Store
    def _doc(self, iid: str) -> Doc | None: ...  # pragma: no cover
    def _touch(self) -> None: ...  # pragma: no cover
    def load_rest(self) -> None: ...  # pragma: no cover

    # ------------------------------------------------------------- reading
    def _rule_state(self) -> tuple[list[Rule], RuleSet]:
        cached = self._rules_cache
        if cached is None or cached[0] != self._rules_version:
            rules = sorted(
                (Rule.from_doc(d) for d in self.rules_p.docs().values()), key=lambda r: r.id
            )
            cached = self._rules_cache = (self._rules_version, rules, RuleSet(rules))
        return cached[1], cached[2]

    def rules(self) -> list[Rule]:
        """Every mute rule and alert, oldest first."""
        with self._mu:
            return list(self._rule_state()[0])

    def get_rule(self, rule_id: int) -> Rule | None:
        with self._mu:
            d = self.rules_p.get(str(rule_id))
            return Rule.from_doc(d) if d is not None else None

    def rule_counts(self) -> dict[int, int]:
        """Rule id -> how many items it matches now (mutes: hides; alerts: marked)."""
        with self._mu:
            rules, _ = self._rule_state()
            out: dict[int, int] = {}
            feeds = self.feeds_p.docs()
            for r in rules:
                if r.dynamic:
                    out[r.id] = self._count_dynamic(r, feeds)
                elif r.kind == "mute":
                    out[r.id] = len(self._ix.by_mute.get(r.id, ()))
                else:
                    out[r.id] = len(self._ix.by_alert.get(r.id, ()))
            return out

    def alert_counts(self) -> dict[int, int]:
        """Alert id -> unread matches still in view: what the status bar counts
        (``● llm 3``).  Cheap: walks only the items alerts have matched."""
        with self._mu:
            rules, _ = self._rule_state()
            alerts = {r.id for r in rules if r.kind == "alert"}
            out = dict.fromkeys(sorted(alerts), 0)
            unread, muted = self._ix.unread, self._ix.muted
            for rid in out:
                members = self._ix.by_alert.get(rid)
                if members:
                    out[rid] = len((members & unread) - muted)
            return out

    def _count_dynamic(self, r: Rule, feeds: Mapping[str, Doc]) -> int:
        if r.field == "feed":
            n = 0
            for iid in self._ix.by_feed.get(r.value, ()):
                if iid not in self._ix.social:
                    n += 1  # no sightings: its one source is this feed
                elif (d := self._doc(iid)) is not None and doc_sources(d) == {r.value}:
                    n += 1
            return n
        tagged = {f for f, d in feeds.items() if r.value in (d.get("tags") or ())}
        one = RuleSet([r])
        n = 0
        for iid in set().union(*(self._ix.by_feed.get(f, set()) for f in tagged), self._ix.tagged):
            d = self._doc(iid)
            if d is not None and one.matches(r, self._subject(d, feeds)):
                n += 1
        return n

    def _subject(self, d: Doc, feeds: Mapping[str, Doc], field: str = "") -> Subject:
        """What rules see of one item document (only what ``field`` needs, if given:
        adding a title rule scans every item)."""
        if field == "title":
            return Subject(title=str(d.get("title") or ""))
        sightings = d.get("sightings") or ()
        texts = [str(d.get("title") or ""), str(d.get("summary") or "")]
        voices = []
        for s in sightings:
            if s.get("kind", "entry") == "entry":
                continue
            if s.get("text"):
                texts.append(str(s["text"]))
            names = {name_key(str(s[k])) for k in ("author", "handle", "reposter") if s.get(k)}
            voices.append(frozenset(names))
        sources = doc_sources(d)
        return Subject(
            title=str(d.get("title") or ""),
            text="\n".join(t for t in texts if t),
            author=str(d.get("author") or ""),
            voices=tuple(voices),
            sources=frozenset(sources),
            tags=frozenset(d.get("tags") or ()),
            source_tags=tuple(frozenset((feeds.get(f) or {}).get("tags") or ()) for f in sources),
        )

    # -------------------------------------------------------- dynamic mutes
    def _refresh_mutes(self) -> None:
        """Recompute the muted feeds and tags (a feed muted or tagged, a rule
        added or removed) and the items they hide."""
        rules, _ = self._rule_state()
        tags = {r.value for r in rules if r.dynamic and r.field == "tag"}
        feeds = {r.value for r in rules if r.dynamic and r.field == "feed"}
        for fid, d in self.feeds_p.docs().items():
            if d.get("muted") or (tags and not tags.isdisjoint(d.get("tags") or ())):
                feeds.add(fid)
        if feeds or tags or self._ix.muted_feeds or self._ix.muted_tags:
            self._ix.set_mutes(feeds, tags, self._doc)

    def _rules_changed(self) -> None:
        self._rules_version += 1
        self._refresh_mutes()

    # -------------------------------------------------------------- ingest
    def _apply_rules_to_new(self, docs: Mapping[str, Doc]) -> None:
        """Record the mutes and alerts matching items about to be inserted."""
        if self.rules_p.changed_on_disk():  # `veille rules add` in another process
            self.rules_p.reload()
            self._rules_changed()
        _, ruleset = self._rule_state()
        if not ruleset:
            return
        mutes, alerts = ruleset.of_kind("mute"), ruleset.of_kind("alert")
        feeds = self.feeds_p.docs()
        for d in docs.values():
            subject = self._subject(d, feeds)
            hit = [r.id for r in ruleset.matching(subject, mutes)]
            if hit:
                d["mute"] = hit
            for r in ruleset.matching(subject, alerts):
                effects = _alert_effects(r, d)
                _apply_effects(d, effects)
                d.setdefault("alerts", {})[str(r.id)] = effects
        self._stop_slow(ruleset)

    def _recheck_item(self, iid: str, *, alerts: bool) -> None:
        """Apply rules again to one item whose text or sources changed (an updated
        entry, a merge): recorded mutes follow; new alert matches fire."""
        _, ruleset = self._rule_state()
        if not ruleset:
            return
        p = self._ix.where.get(iid)
        d = p.get(iid) if p is not None else None
        if p is None or d is None:
            return
        feeds = self.feeds_p.docs()
        subject = self._subject(d, feeds)
        changes: Doc = {}
        hit = [r.id for r in ruleset.matching(subject, ruleset.of_kind("mute"))]
        if hit != list(d.get("mute") or ()):
            changes["mute"] = hit
        if alerts:
            known = dict(d.get("alerts") or {})
            for r in ruleset.matching(subject, ruleset.of_kind("alert")):
                if str(r.id) in known:
                    continue
                effects = _alert_effects(r, d)
                changes.update(_effect_fields(d, effects))
                known[str(r.id)] = effects
            if known != (d.get("alerts") or {}):
                changes["alerts"] = known
        if changes:
            p.patch(iid, changes)
            self._ix.restate(iid, p.get(iid) or {})
        self._stop_slow(ruleset)

    def _stop_slow(self, ruleset: RuleSet) -> None:
        for rid in list(ruleset.too_slow):
            d = self.rules_p.get(str(rid))
            if d is None or d.get("stopped"):
                continue
            reason = f"stopped {iso(now())}: its pattern took too long on an incoming item"
            log.warning("rule %s (/%s/) %s", rid, d.get("value"), reason)
            self.rules_p.patch(str(rid), {"stopped": reason})
            self._rules_version += 1

    # --------------------------------------------------------------- edits
    def add_rule(
        self,
        kind: str,
        field: str,
        value: str,
        *,
        star: bool = False,
        tag: str = "",
        label: str = "",
    ) -> tuple[Rule, int]:
        """Add a rule and apply it to the items already here; (rule, items matched).

        Raises RuleError (one line) for a bad rule, or a pattern that takes too
        long on an item already stored: better refused now than stopped later.
        The scan of stored items (about a second at 100,000) runs without the
        store's lock, so the app stays responsive if it calls this in a worker.
        """
        self.load_rest()
        with self._mu:
            meta = self.meta_p.get("rules") or {}
            used = [int(k) for k in self.rules_p.docs()]
            rid = max([int(meta.get("next") or 1), *(u + 1 for u in used)])
            rule = Rule(
                id=rid,
                kind=kind,
                field=field,
                value=value.strip() if field not in ("title", "text") else value,
                star=star,
                tag=tag.strip(),
                created=iso(now()),
                label=label,
            )
            check_rule(rule)
            self.meta_p.put("rules", {"next": rid + 1})
        n = self._install(rule)
        with self._mu:
            self._log_rule({"op": "add", "rule": rule.to_doc()})
            self._touch()
        return rule, n

    def _install(self, rule: Rule, effects: Mapping[str, Any] | None = None) -> int:
        """Store ``rule`` and apply it to stored items; how many it matched.

        Call without holding the lock.  The rule is stored first, so items that
        arrive during the scan get it at ingest; the scan reads a snapshot of the
        ids; the matches are recorded under the lock at the end.
        """
        with self._mu:
            self.rules_p.put(str(rule.id), rule.to_doc())
            self._rules_changed()
            feeds = {f: dict(d) for f, d in self.feeds_p.docs().items()}
            if rule.dynamic:
                self._touch()
                return self._count_dynamic(rule, feeds)
            if effects is not None:  # an undone removal: put back exactly what it did
                found = {iid: dict(e) for iid, e in effects.items()}
                return self._record(rule, found)
            pool = list(self._ix.where if rule.kind == "mute" else self._ix.unread)
        ruleset = RuleSet([rule])
        matched: list[str] = []
        try:
            for iid in pool:
                d = self._doc(iid)
                if d is not None and ruleset.matches(rule, self._subject(d, feeds, rule.field)):
                    matched.append(iid)
        except RuleTooSlow as exc:
            with self._mu:
                self._uninstall(rule)
            raise RuleError(f"rule not added: {exc}") from None
        with self._mu:
            return self._record(rule, dict.fromkeys(matched))

    def _record(self, rule: Rule, found: Mapping[str, Mapping[str, Any] | None]) -> int:
        """Record ``rule`` on the items found (with the lock held); an alert's effects
        are worked out now, on the item as it is, unless given."""
        key = str(rule.id)
        for iid, given in found.items():
            p = self._ix.where.get(iid)
            d = p.get(iid) if p is not None else None
            if p is None or d is None:
                continue  # gone meanwhile (retention, another process)
            if rule.kind == "mute":
                if rule.id in (d.get("mute") or ()):
                    continue  # recorded at ingest during the scan
                fields_: Doc = {"mute": [*(d.get("mute") or ()), rule.id]}
            else:
                if key in (d.get("alerts") or {}):
                    continue
                eff = dict(given) if given is not None else _alert_effects(rule, d)
                fields_ = _effect_fields(d, eff)
                fields_["alerts"] = {**(d.get("alerts") or {}), key: eff}
            p.patch(iid, fields_)
            self._ix.restate(iid, p.get(iid) or {})
        self._touch()
        return self._matched(rule)  # with those recorded at ingest during the scan

    def _matched(self, rule: Rule) -> int:
        index = self._ix.by_mute if rule.kind == "mute" else self._ix.by_alert
        return len(index.get(rule.id, ()))

    def remove_rule(self, rule_id: int) -> tuple[Rule, int]:
        """Remove a rule; its muted items come back, an alert's stars and tags go.
        Returns (the rule, items it affected)."""
        self.load_rest()
        with self._mu:
            rule = self.get_rule(rule_id)
            if rule is None:
                raise RuleError(f"no rule {rule_id} (see `veille rules`)")
            n, effects = self._uninstall(rule)
            entry: Doc = {"op": "remove", "rule": rule.to_doc()}
            if rule.kind == "alert":
                entry["effects"] = effects
            self._log_rule(entry)
            self._touch()
            return rule, n

    def _uninstall(self, rule: Rule) -> tuple[int, dict[str, Any]]:
        feeds = self.feeds_p.docs()
        if rule.dynamic:
            n = self._count_dynamic(rule, feeds)
            self.rules_p.delete([str(rule.id)])
            self._rules_changed()
            return n, {}
        effects: dict[str, Any] = {}
        n = 0
        key = str(rule.id)
        remaining = [r for r in self._rule_state()[0] if r.id != rule.id and r.kind == "alert"]
        pool = (self._ix.by_mute if rule.kind == "mute" else self._ix.by_alert).get(rule.id, ())
        for iid in list(pool):
            p = self._ix.where.get(iid)
            d = p.get(iid) if p is not None else None
            if p is None or d is None:
                continue
            if rule.kind == "mute":
                if rule.id not in (d.get("mute") or ()):
                    continue
                p.patch(iid, {"mute": [m for m in d["mute"] if m != rule.id]})
            else:
                mine = (d.get("alerts") or {}).get(key)
                if mine is None:
                    continue
                effects[iid] = mine
                others = {int(k) for k in d["alerts"] if k != key}
                keep = [r for r in remaining if r.id in others]
                fields_ = _revert_fields(d, mine, keep)
                fields_["alerts"] = {k: v for k, v in d["alerts"].items() if k != key}
                p.patch(iid, fields_)
            self._ix.restate(iid, p.get(iid) or {})
            n += 1
        self.rules_p.delete([key])
        self._rules_changed()
        return n, effects

    def undo_rules(self) -> str | None:
        """Take back the last rule change; a line saying what was undone, or None."""
        self.load_rest()
        with self._mu:
            log_doc = self.meta_p.get("rules_undo") or {}
            entries = list(log_doc.get("log") or ())
            if not entries:
                return None
            entry = entries.pop()
            self.meta_p.put("rules_undo", {"log": entries})
            rule = Rule.from_doc(entry["rule"])
            if entry["op"] == "add":
                current = self.get_rule(rule.id)
                if current is not None:
                    self._uninstall(current)
                self._touch()
                return f"undid adding rule {rule.id} ({rule.describe()})"
            if self.get_rule(rule.id) is not None:
                return f"rule {rule.id} is there already ({rule.describe()})"
        effects = entry.get("effects") if rule.kind == "alert" else None
        self._install(replace(rule, stopped=""), effects)
        return f"undid removing rule {rule.id} ({rule.describe()})"

    def _log_rule(self, entry: Doc) -> None:
        log_doc = self.meta_p.get("rules_undo") or {}
        entries = [*(log_doc.get("log") or ()), {**entry, "at": iso(now())}]
        self.meta_p.put("rules_undo", {"log": entries[-RULES_UNDO_DEPTH:]})


def _alert_effects(rule: Rule, d: Mapping[str, Any]) -> dict[str, Any]:
    """What ``rule`` changes on an item: only what is not so already, so removing
    the alert never takes back a star or tag the user gave."""
    eff: dict[str, Any] = {}
    if rule.star and not d.get("starred"):
        eff["star"] = True
    if rule.tag and rule.tag not in (d.get("tags") or ()):
        eff["tag"] = rule.tag
    return eff


def _effect_fields(d: Mapping[str, Any], eff: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if eff.get("star"):
        out["starred"] = True
    if eff.get("tag") and eff["tag"] not in (d.get("tags") or ()):
        out["tags"] = [*(d.get("tags") or ()), eff["tag"]]
    return out


def _apply_effects(d: dict[str, Any], eff: Mapping[str, Any]) -> None:
    d.update(_effect_fields(d, eff))


def _revert_fields(
    d: Mapping[str, Any], eff: Mapping[str, Any], keep: Iterable[Rule]
) -> dict[str, Any]:
    """Take back one alert's changes unless another alert still on the item does the same."""
    keep = list(keep)
    out: dict[str, Any] = {}
    if eff.get("star") and d.get("starred") and not any(r.star for r in keep):
        out["starred"] = False
    tag = eff.get("tag")
    if tag and tag in (d.get("tags") or ()) and not any(r.tag == tag for r in keep):
        out["tags"] = [t for t in d["tags"] if t != tag]
    return out
