"""One TinyDB file, held in memory, flushed atomically, merged with other processes.

TinyDB's stock ``JSONStorage`` re-reads and rewrites the whole file on every
call (0.58 s per update at 50k items).  Here the storage keeps the parsed data
in memory: ``write`` only replaces it, and the store's flusher thread writes the
file later with :func:`veille.util.atomicfile.write_atomic`.  Changes are also
recorded as *pending operations* (put / patch / delete per document), so when
another process replaced the file meanwhile we reload it and replay only our own
changes on top: field-level merge, no lost writes.

Only TinyDB's public extension points are used: a custom ``Storage``, and a
``table_class`` whose ``document_id_class`` is ``str`` (our ids are hashes) and
whose id-addressed writes (``insert_multiple`` with ``Document`` ids,
``update``/``remove`` with ``doc_ids``) skip the stock copy of the whole table
(see KeyedTable).  Reads go straight to the storage's data, which is ours.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Document, Table

from veille.store.jsonfile import Damaged, dump, load
from veille.util.atomicfile import write_atomic

log = logging.getLogger(__name__)

Sig = str | tuple[int, int, int] | None
TOKEN_KEY = "_w"  # first key of every file we write: a random token per write
_TOKEN_RE = re.compile(rb'^\{"_w":\{"t":"([0-9a-f]{16})"')


def file_sig(path: Path) -> Sig:
    """What identifies one written version of a file.

    The write token, not (inode, mtime, size): after atomic replaces an inode
    number is reused at once and mtime ticks coarsely, so two versions written
    a few milliseconds apart can share all three, and a change would be missed.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
            st = os.fstat(fh.fileno())
    except FileNotFoundError:
        return None
    m = _TOKEN_RE.match(head)
    if m:
        return m.group(1).decode()
    return (st.st_ino, st.st_mtime_ns, st.st_size)


class MemoryFileStorage(Storage):
    """TinyDB storage: data lives in memory; the owner decides when it hits the disk.

    ``damaged`` says why the file could not be read (it was set aside), so the
    store can tell the user instead of carrying on as if it were empty.
    """

    def __init__(
        self, path: str | Path, table: str = "_default", keep_previous: bool = False
    ) -> None:
        self.path = Path(path)
        self.table_name = table
        self.keep_previous = keep_previous
        self.data: dict[str, dict[str, Any]] | None = None
        self.damaged: Damaged | None = None
        self.recovered: Path | None = None  # the previous version read instead

    @property
    def previous(self) -> Path:
        return self.path.with_name(self.path.name + ".prev")

    def read(self) -> dict[str, dict[str, Any]] | None:
        if self.data is None:
            self.data = self._load()
        return self.data

    def _load(self) -> dict[str, dict[str, Any]]:
        loaded = load(self.path, table=self.table_name)
        if isinstance(loaded, Damaged):
            self.damaged = loaded
            if self.keep_previous:
                prev = load(self.previous, table=self.table_name)
                if isinstance(prev, dict) and prev.get(self.table_name):
                    self.recovered = self.previous
                    return prev
            return {}
        return loaded or {}

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        self.data = data

    def close(self) -> None:  # nothing to release; flushing is explicit
        pass


class KeyedTable(Table):
    """A TinyDB table keyed by our own string ids, with id-addressed writes in O(k).

    ``table_class`` is TinyDB's documented way to customise tables.  The stock
    methods route every write through a copy of the table's whole id mapping
    (twice), so one keypress at 100k items, or one refresh inserting a few
    items into each of 30 day files, costs in proportion to the files.  Writes
    addressed by ids need no such copy: these public methods do them on the
    storage's data directly (our storage keeps it in memory) and fall back to
    TinyDB's own code for anything else (queries).
    """

    document_id_class = str  # type: ignore[assignment]

    def _docs(self) -> dict[str, dict[str, Any]]:
        data = self.storage.read()
        if data is None:
            data = {}
        return data.setdefault(self.name, {})

    def _written(self) -> None:
        self.storage.write(self.storage.read() or {})
        self.clear_cache()

    def insert_multiple(self, documents: Iterable[Mapping[str, Any]]) -> list[Any]:
        docs = list(documents)
        if not all(isinstance(d, Document) for d in docs):
            return super().insert_multiple(docs)
        table = self._docs()
        for d in docs:
            if str(d.doc_id) in table:  # type: ignore[attr-defined]
                raise ValueError(f"Document with ID {d.doc_id} already exists")  # type: ignore[attr-defined]
        for d in docs:
            table[str(d.doc_id)] = dict(d)  # type: ignore[attr-defined]
        self._written()
        return [d.doc_id for d in docs]  # type: ignore[attr-defined]

    def insert_docs(self, docs: Mapping[str, dict[str, Any]]) -> None:
        """Insert documents under the given ids, all new: ``insert_multiple`` without
        wrapping each in a Document and copying it (a cold refresh adds 20,000)."""
        table = self._docs()
        clash = next((i for i in docs if i in table), None)
        if clash is not None:
            raise ValueError(f"Document with ID {clash} already exists")
        table.update(docs)
        self._written()

    def update(
        self, fields: Any, cond: Any = None, doc_ids: Iterable[Any] | None = None
    ) -> list[Any]:
        if doc_ids is None or cond is not None:
            return super().update(fields, cond=cond, doc_ids=doc_ids)
        table = self._docs()
        done = [i for i in doc_ids if i in table]
        for i in done:
            if callable(fields):
                fields(table[i])
            else:
                table[i].update(fields)
        self._written()
        return done

    def remove(self, cond: Any = None, doc_ids: Iterable[Any] | None = None) -> list[Any]:
        if doc_ids is None or cond is not None:
            return super().remove(cond=cond, doc_ids=doc_ids)
        table = self._docs()
        done = [i for i in doc_ids if i in table]
        for i in done:
            del table[i]
        self._written()
        return done


class VeilleDB(TinyDB):
    table_class = KeyedTable


_DELETE = object()


class Partition:
    """A named TinyDB file with one table, and the bookkeeping to flush and merge it."""

    def __init__(
        self,
        path: Path,
        table: str,
        *,
        order_by: str | None = None,
        keep_previous: bool = False,
        key_fields: frozenset[str] = frozenset(),
    ) -> None:
        """``keep_previous``: each write keeps the version it replaces as NAME.prev (a
        hard link: no copy), read back if the file is ever found damaged.  For the
        small file whose loss hurts most: the subscriptions.

        ``key_fields``: ``keys_version`` counts the changes that may alter them (any
        put, delete or reload, a patch of one of them), so a summary of them (see
        store/keys.py) is computed again only when it may differ."""
        self.path = path
        self.table_name = table
        self.order_by = order_by  # write documents sorted by this field, newest first
        self.db = VeilleDB(
            path, storage=MemoryFileStorage, table=table, keep_previous=keep_previous
        )
        self.table: KeyedTable = self.db.table(table, cache_size=0)  # type: ignore[assignment]
        self._storage: MemoryFileStorage = self.db.storage  # type: ignore[assignment]
        self.pending: dict[str, Any] = {}  # id -> ("put", doc) | ("patch", fields) | _DELETE
        self.sig: Sig = None
        self.loaded = False
        self.key_fields = key_fields
        self.keys_version = 0

    @property
    def damaged(self) -> Damaged | None:
        return self._storage.damaged

    # -- reading ---------------------------------------------------------
    def ensure_loaded(self) -> None:
        if not self.loaded:
            self.sig = file_sig(self.path)
            self._storage.data = None
            self._storage.read()
            self.loaded = True

    def docs(self) -> dict[str, dict[str, Any]]:
        """The live id -> document mapping (read-only for callers)."""
        if not self.loaded:
            self.ensure_loaded()
        data = self._storage.data
        if data is None:
            return {}
        return data.get(self.table_name) or {}

    def get(self, doc_id: str) -> dict[str, Any] | None:
        return self.docs().get(doc_id)

    def __len__(self) -> int:
        return len(self.docs())

    # -- writing (in memory; recorded for the flush) ----------------------
    def put(self, doc_id: str, doc: dict[str, Any]) -> None:
        self.put_many({doc_id: doc})

    def put_many(self, docs: Mapping[str, dict[str, Any]]) -> None:
        """Insert or replace whole documents: one table update per batch."""
        self.ensure_loaded()
        if not docs:
            return
        existing = self.docs()
        replaced = [doc_id for doc_id in docs if doc_id in existing]
        if replaced:
            self.table.remove(doc_ids=replaced)
        self.table.insert_docs(docs)
        self.keys_version += 1
        for doc_id, doc in docs.items():
            self.pending[doc_id] = ("put", doc)

    def patch(self, doc_id: str, fields: Mapping[str, Any]) -> bool:
        """Change some fields of an existing document; False if it is not here."""
        self.ensure_loaded()
        if doc_id not in self.docs():
            return False
        self.table.update(dict(fields), doc_ids=[doc_id])
        if not self.key_fields.isdisjoint(fields):
            self.keys_version += 1
        prev = self.pending.get(doc_id)
        if prev is None or prev is _DELETE:
            self.pending[doc_id] = ("patch", dict(fields))
        elif prev[0] == "put":
            self.pending[doc_id] = ("put", self.docs()[doc_id])
        else:
            prev[1].update(fields)
        return True

    def delete(self, doc_ids: Iterable[str]) -> int:
        self.ensure_loaded()
        docs = self.docs()
        ids = [i for i in doc_ids if i in docs]
        if ids:
            self.table.remove(doc_ids=ids)
            self.keys_version += 1
            for i in ids:
                self.pending[i] = _DELETE
        return len(ids)

    @property
    def dirty(self) -> bool:
        return bool(self.pending)

    # -- disk --------------------------------------------------------------
    def changed_on_disk(self) -> bool:
        return self.loaded and file_sig(self.path) != self.sig

    def reload(self) -> None:
        """Re-read the file (another process wrote it) and replay our pending changes."""
        fresh = load(self.path, table=self.table_name)
        data: dict[str, dict[str, Any]] = fresh if isinstance(fresh, dict) else {}
        table = data.setdefault(self.table_name, {})
        for doc_id, op in self.pending.items():
            if op is _DELETE:
                table.pop(doc_id, None)
            elif op[0] == "put":
                table[doc_id] = op[1]
            elif doc_id in table:  # a patch of a document someone else deleted is dropped
                table[doc_id].update(op[1])
        self._storage.data = data
        self.table.clear_cache()
        self.sig = file_sig(self.path)
        self.loaded = True
        self.keys_version += 1

    def serialize(self) -> tuple[str, bytes]:
        """(token, JSON bytes) of the current state; call with the store's lock held."""
        token = secrets.token_hex(8)
        data = self._storage.read() or {}
        out: dict[str, Any] = {TOKEN_KEY: {"t": token}}
        out.update((k, v) for k, v in data.items() if k != TOKEN_KEY)
        if self.order_by and self.table_name in out:
            key = self.order_by
            docs = out[self.table_name]
            out[self.table_name] = dict(
                sorted(docs.items(), key=lambda kv: kv[1].get(key) or "", reverse=True)
            )
        return token, dump(out)

    def write(self, payload: tuple[str, bytes]) -> None:
        """Write what :meth:`serialize` returned and remember the version we wrote."""
        token, data = payload
        if self._storage.keep_previous:
            self._keep_previous()
        write_atomic(self.path, data)
        self.written(token)

    @property
    def keeps_previous(self) -> bool:
        """Its last version is kept beside it (the feeds file): written alone."""
        return bool(self._storage.keep_previous)

    def written(self, token: str) -> None:
        """The version ``token`` is on disk (written here or by a batch)."""
        self.sig = token

    def _keep_previous(self) -> None:
        prev = self._storage.previous
        tmp = prev.with_name(prev.name + ".new")
        try:
            tmp.unlink(missing_ok=True)
            os.link(self.path, tmp)
            os.replace(tmp, prev)
        except FileNotFoundError:
            pass  # nothing written yet: nothing to keep
        except OSError:
            log.warning("could not keep the previous %s", self.path.name, exc_info=True)

    @property
    def recovered(self) -> Path | None:
        """The previous version that was read because this file was damaged."""
        return self._storage.recovered
