"""The parser processes: where feed bodies are parsed, off the event loop and the GIL.

Parsing is CPU work (feedparser's SAX handlers): on two cores a pool of worker
processes halves a cold refresh.  The rules of the pool live here and nowhere
else:

- Workers die with their parent, however it dies (``kill -9`` included): each
  asks the kernel for SIGKILL when its parent goes (``PR_SET_PDEATHSIG``), and
  checks once that the parent is still the one that started it.
- Forking is only safe before the process has other threads: the CLI forks the
  pool before the store starts its flusher (``fork_pool``); a process that
  already has threads (the app) gets a forkserver pool whose server preloads
  the parser.
- Nothing is started when nothing needs parsing: a warm refresh (every feed
  answering 304) never pays for processes, nor imports what they need (the
  parser, multiprocessing, ctypes: ~10 ms of a warm refresh's start).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from veille.domain.entries import ParsedFeed

# Below this many bodies to parse, processes cost more than they save.
POOL_THRESHOLD = 4
_PR_SET_PDEATHSIG = 1


def parse_and_hash(body: bytes, url: str, headers: dict[str, str]) -> ParsedFeed:
    """parse_feed plus what the store would otherwise compute on the main thread:
    content hashes, links without tracking parameters and their canonical keys
    (~40 µs an entry, 10,000 entries in a cold refresh)."""
    from veille.sources.feed.parse import parse_feed
    from veille.store.ids import entry_hash
    from veille.store.links import prepare_link

    parsed = parse_feed(body, url, headers)
    for e in parsed.entries:
        e.content_hash = entry_hash(e)
        prepare_link(e)
    return parsed


def _die_with_parent(parent: int | None) -> None:
    """Worker initializer: never outlive the process that started the pool.

    ``parent`` is that process's pid for a forked pool; a forkserver's workers
    are children of the server, which itself exits when veille goes."""
    import ctypes
    import ctypes.util

    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # The parent may have died before prctl took effect.
    if parent is not None and os.getppid() != parent:
        os._exit(0)
    # ctrl+c goes to the whole process group: the parent handles it and shuts
    # the pool down; a worker dying of it mid-task only adds a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A forked worker inherits the CLI's SIGTERM handler (unwind and flush the
    # store): a worker has nothing to flush, so it just ends, silently.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _warm() -> None:
    """Runs once in each worker so they start while the first bodies download."""


def fork_pool(workers: int) -> Executor:
    """Parser processes forked from a caller that has no other thread yet.

    The CLI calls this before the store starts its flusher thread: forking is
    then safe, and ~0.3 s faster than a forkserver, whose fresh interpreter must
    import the parser before the first body can be parsed.
    """
    # Imported once here, inherited by the workers (lxml for the fast path too:
    # ~40 ms a worker would otherwise spend on its first body).
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import feedparser  # noqa: F401

    import veille.sources.feed.fastparse
    import veille.sources.feed.parse  # noqa: F401

    if threading.active_count() > 1:  # not safe to fork: fall back
        return make_pool(POOL_THRESHOLD, workers)
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_die_with_parent,
        initargs=(os.getpid(),),
    )
    for _ in range(workers):
        pool.submit(_warm)
    return pool


def make_pool(n_bodies: int, workers: int) -> Executor:
    """A pool for a process that has threads: a thread for a few bodies, else a
    forkserver pool (forking a threaded process can deadlock the child)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

    if n_bodies < POOL_THRESHOLD or workers <= 1:
        return ThreadPoolExecutor(max_workers=1)
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(
        [
            "veille.refresh.pool",
            "feedparser",
            "veille.sources.feed.fastparse",
            "veille.sources.feed.parse",
        ]
    )
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=ctx,
        initializer=_die_with_parent,
        initargs=(None,),
    )
    for _ in range(workers):
        pool.submit(_warm)
    return pool
