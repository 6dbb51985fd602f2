"""Subscribing from the app: a feed or page address, an OPML file in or out.

Thin over ``subscriptions.subscribe`` so the welcome screen, the ``a`` key and
the command palette say the same things; every failure is one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from veille.config import Config
from veille.render.hygiene import clean_line
from veille.store.store import Store
from veille.util.atomicfile import write_atomic

if TYPE_CHECKING:  # subscribing brings the HTTP client: imported when first used
    from veille.subscriptions.subscribe import AddResult

DEFAULT_EXPORT = "~/veille-subscriptions.opml"

__all__ = ["AddResult", "export_file", "import_file", "is_file_answer", "subscribe"]


def is_file_answer(value: str) -> bool:
    """Whether what was typed in "Add a feed" names an OPML file rather than a URL."""
    return value.lower().endswith(".opml") or Path(value).expanduser().is_file()


async def subscribe(store: Store, config: Config, url: str, pick: int | None = None) -> AddResult:
    from veille.subscriptions.subscribe import add_subscription

    return await add_subscription(store, config, url, pick=pick)


def import_file(store: Store, raw: str) -> tuple[bool, str]:
    """Import every feed of an OPML file: (ok, one line to show)."""
    from veille.subscriptions.subscribe import OpmlError, import_opml

    path = Path(raw.strip()).expanduser()
    try:
        added, known, skipped = import_opml(store, path)
    except OpmlError as exc:
        return False, clean_line(str(exc))
    except OSError as exc:
        return False, f"cannot read {path}: {clean_line(exc.strerror or str(exc))}"
    line = f"Imported {added} feed(s), {known} already there"
    if skipped:
        line += f", {skipped} skipped (not feeds)"
    return True, line + "."


def export_file(store: Store, raw: str) -> tuple[bool, str]:
    """Write every feed to an OPML file (atomically): (ok, one line to show)."""
    from veille.subscriptions.subscribe import export_opml

    path = Path((raw or DEFAULT_EXPORT).strip()).expanduser()
    try:
        write_atomic(path, export_opml(store).encode("utf-8"))
    except OSError as exc:
        return False, f"cannot write {path}: {clean_line(exc.strerror or str(exc))}"
    return True, f"Exported {sum(f.kind == 'feed' for f in store.feeds())} feed(s) to {path}."
