"""What every command gets: paths, config, the store (opened on first use), and the
error type that becomes one line on stderr."""

from __future__ import annotations

import sys

from veille.config import Config
from veille.domain.errors import VeilleError
from veille.domain.records import Feed
from veille.paths import Paths
from veille.store.errors import StoreWriteError
from veille.store.store import Store


class UserError(VeilleError):
    """Bad input from the user: printed as one line, exit status 1 (or .code)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class Terminated(VeilleError):
    """SIGTERM arrived: the command stopped cleanly (exit status 143)."""

    code = 143


class Ctx:
    """Paths, config and (lazily) the store for one command."""

    def __init__(self, paths: Paths, config: Config) -> None:
        self.paths = paths
        self.config = config
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        return self.open_store()

    def open_store(self, **options: object) -> Store:
        """Open the store with options (``autoflush=False`` before forking, ``lazy``).

        Damaged files it set aside are named on stderr whatever the command: the
        first command to open a damaged store may be a cron ``refresh`` or an
        ``items`` piped into a script, and the store moves the file aside, so
        later opens would not see it again."""
        if self._store is None:
            self._store = Store(self.paths.store, **options)  # type: ignore[arg-type]
            for problem in self._store.problems:
                print(f"veille: warning: {problem}", file=sys.stderr)
        return self._store

    def save(self) -> None:
        """Write pending changes now: a command must not claim a change the disk
        refused (full, read-only)."""
        if self._store is None:
            return
        try:
            self._store.flush()
        except StoreWriteError as exc:
            raise UserError(f"{exc}; nothing was changed on disk") from None

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def feed_by_ref(store: Store, ref: str) -> Feed:
    """A feed by id, URL or a unique id prefix (4+ characters, as `mark` takes item
    ids), or a UserError that says how to list them."""
    feed = store.find_feed(ref)
    if feed is not None:
        return feed
    hits = [f for f in store.feeds() if len(ref) >= 4 and f.id.startswith(ref)]
    if len(hits) > 1:
        raise UserError(f"feed id '{ref}' is ambiguous ({len(hits)} feeds); give more of it")
    if not hits:
        raise UserError(f"no such feed: {ref} (see `veille feeds`)")
    return hits[0]
