"""Write tests/data/store-v1 with veille's first release (commit 4515341), for the migration test.

Run from a checkout of that commit: PYTHONPATH=<it>/src python tests/data/make_store_v1.py tests/data/store-v1
Kept so the fixture can be made again; the suite never runs it.
"""
import sys
from pathlib import Path
from veille.store.store import Store
from veille.model import ParsedEntry, ParsedFeed
root = Path(sys.argv[1])
s = Store(root, autoflush=False)
f, _ = s.add_feed("https://blog.example/feed.xml", title="Example blog", tags=["news"])
g, _ = s.add_feed("https://other.example/atom", site_url="https://other.example/")
entries = [
    ParsedEntry(key="a1", title="Tracking link", link="https://www.example.com/post/1?utm_source=rss&utm_medium=feed&id=7#comments",
                author="Ann", published="2026-11-01T10:00:00Z", summary="one", content="<p>one <a href='rel'>rel</a></p>"),
    ParsedEntry(key="a2", title="Plain link", link="https://blog.example/2", published="2026-11-02T10:00:00Z", summary="two",
                categories=["python", "ai"]),
    ParsedEntry(key="a3", title="", link="https://blog.example/3", summary="no title here but words", content="<p>three</p>"),
]
s.upsert_entries(f["id"], ParsedFeed(title="Example blog", entries=entries))
s.upsert_entries(g["id"], ParsedFeed(title="Other", entries=[ParsedEntry(key="b1", title="Other post", link="https://other.example/b1", published="2026-10-01T00:00:00Z")]))
s.update_feed(f["id"], etag='"v1"', last_modified="Mon, 02 Nov 2026 10:00:00 GMT", status="ok", last_fetch="2026-11-02T10:05:00Z")
ids = s.ordered_ids()
items = {s.get_item(i)["key"]: i for i in ids}
s.set_state([items["a1"]], read=True, starred=True, tags=["keep"])
s.set_state([items["b1"]], read=True, hidden=True)
s.put_share({"id": "s0001", "item_id": items["a2"], "comment": "Worth a read", "created": "2026-11-03T09:00:00Z",
             "title": "Plain link", "link": "https://blog.example/2", "source": "Example blog", "hashtags": ["python"],
             "deliveries": {"atom": {"destination": "atom", "kind": "atom", "status": "sent", "text": "Worth a read https://blog.example/2", "url": "file:///x/shares.atom", "attempts": 1, "idempotency_key": "veille-k"}}}, durable=False)
s.save_draft(items["a3"], {"item": items["a3"], "text": "half a thought", "to": ["atom"], "hashtags": [], "updated": "2026-11-03T10:00:00Z"}, durable=False)
s.close()
print("written", root)
