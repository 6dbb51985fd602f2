"""What the sharing layer costs per keystroke and per failure, as a table.

- preview: ``build_share`` for a composer with three destinations (Atom, Mastodon
  with its limits read from the cache file, Bluesky), the work the app repeats as
  the comment is typed;
- the same with the Mastodon limits given in the account (no cache file read);
- redact: one server message of 300 characters through the redactor of an
  account with three secrets (what every failed delivery pays).

Run: ``.venv/bin/python benchmarks/share_bench.py``.  Figures are per call, and
ratios within one run; nothing touches the network.
"""

from __future__ import annotations

import tempfile
import timeit
from dataclasses import replace
from pathlib import Path
from typing import Any

from veille.accounts.config import Account
from veille.accounts.redact import Redactor
from veille.clients.length import MastodonLimits
from veille.config import Config
from veille.share.destinations.mastodon import LIMITS_FILE, LimitsCache


class Store:
    """Just what build_share reads."""

    root = "/nonexistent/store"

    def resolve_id(self, iid: str) -> str:
        return iid

    def get_item(self, iid: str) -> dict[str, Any]:
        return {
            "id": iid,
            "feed": "f1",
            "title": "A headline of ordinary length, with a café and an emoji 🎉",
            "link": "https://example.com/posts/2026/a-headline-of-ordinary-length",
            "author": "Ana Writer",
            "cats": ["machine learning", "Python", "research"],
        }

    def get_feed(self, fid: str) -> dict[str, Any]:
        return {"id": fid, "title": "Example Blog", "url": "https://example.com/feed.xml"}


def main() -> None:
    import os

    from veille.share.outbox import build_share

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["VEILLE_HOME"] = tmp  # the limits cache goes under it
        cache = Path(tmp) / "cache"
        mastodon = Account(name="m", type="mastodon", instance="https://m.example")
        LimitsCache(cache / LIMITS_FILE).put(mastodon, MastodonLimits(500, 23))
        accounts = {
            "atom": Account(name="atom", type="atom", path=f"{tmp}/shares.atom"),
            "m": mastodon,
            "sky": Account(name="sky", type="bluesky", handle="me.test"),
        }
        pinned = dict(accounts, m=replace(mastodon, max_characters=500, url_length=23))
        config = Config()
        comment = ("Worth reading for the method section, and see @ana@m.example. " * 4)[:200]
        store = Store()

        def preview(acc: dict[str, Account]) -> None:
            build_share(store, config, "i1", comment, to=list(acc), accounts=acc)

        message = ("x" * 200) + " Authorization: Bearer " + "T" * 40 + " and more " + "y" * 30
        redactor = Redactor(["T" * 40, "client-secret-" + "s" * 20, "abcd-efgh-ijkl-mnop"])
        rows = []
        for name, fn in (
            ("preview, 3 destinations (limits from cache)", lambda: preview(accounts)),
            ("preview, 3 destinations (limits in account)", lambda: preview(pinned)),
            ("redact one 300-char message, 3 secrets", lambda: redactor(message)),
            ("build a redactor for 3 secrets", lambda: Redactor(["T" * 40, "u" * 30, "v" * 20])),
        ):
            runs, _total = timeit.Timer(fn).autorange()
            best = min(timeit.repeat(fn, number=runs, repeat=5)) / runs
            rows.append((name, best))
        base = rows[1][1]
        print(f"{'what':<48} {'per call':>10} {'vs pinned':>10}")
        for name, secs in rows:
            print(f"{name:<48} {secs * 1e6:>8.1f} µs {secs / base:>9.2f}x")


if __name__ == "__main__":
    main()
