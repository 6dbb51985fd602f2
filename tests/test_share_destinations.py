"""The Destination registry, and Mastodon limits learnt one way (v2, v1, Pleroma)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.servers import fake_mastodon as fake_module
from tests.servers import mastodon as snac_module
from tests.servers.fake_mastodon import FakeMastodon
from tests.servers.mastodon import SnacServer
from veille.accounts.config import ACCOUNT_KINDS, ATOM, Account
from veille.clients.length import MastodonLimits
from veille.domain.records import Item
from veille.domain.share import Share
from veille.share.destinations import REGISTRY, Destination, destination_for
from veille.share.destinations.bluesky import DESCRIPTION_MAX, link_card
from veille.share.destinations.mastodon import (
    LIMITS_FILE,
    LimitsCache,
    MastodonDestination,
    fetch_limits,
)

fake_mastodon = fake_module.fake_mastodon
snac_server = snac_module.snac_server

LINK = "https://example.org/" + "a" * 60  # 80 characters


def test_every_account_kind_has_a_destination() -> None:
    assert set(REGISTRY) == set(ACCOUNT_KINDS) | {ATOM}
    for kind, cls in REGISTRY.items():
        account = Account(name="x", type=kind, command="true", path="/tmp/x.atom")
        dest = destination_for(account)
        assert isinstance(dest, Destination) and dest.kind == kind and isinstance(dest, cls)
    safe = {kind for kind, cls in REGISTRY.items() if cls.retry_safe}
    assert safe == {"mastodon", "bluesky", ATOM}  # the others could post twice


def test_the_outbox_knows_no_destination_by_name() -> None:
    source = (Path(__file__).parents[1] / "src/veille/share/outbox.py").read_text()
    for kind in REGISTRY:
        assert f'"{kind}"' not in source and ".type == " not in source


def mastodon(base_url: str, **kw: object) -> Account:
    return Account(name="m", type="mastodon", instance=base_url, **kw)  # type: ignore[arg-type]


async def test_pleroma_counts_urls_in_full_everywhere(
    fake_mastodon: FakeMastodon, tmp_path: Path
) -> None:
    """Pleroma publishes max_toot_chars in v1 and counts a URL as what it is."""
    fake_mastodon.instance_v2 = None
    fake_mastodon.instance_v1 = {"uri": "pleroma.example", "max_toot_chars": 5000, "pleroma": {}}
    assert await fetch_limits(fake_mastodon.base_url) == MastodonLimits(5000, None)
    dest = MastodonDestination(mastodon(fake_mastodon.base_url), cache_dir=tmp_path)
    assert dest.limits() == MastodonLimits()  # nothing learnt yet: Mastodon's defaults
    assert await dest.learn_limits() == MastodonLimits(5000, None)
    # Learnt once, then the composer's counter needs no network.
    asked = len(fake_mastodon.requests)
    fresh = MastodonDestination(mastodon(fake_mastodon.base_url), cache_dir=tmp_path)
    assert fresh.limits() == MastodonLimits(5000, None)
    assert fresh.check(LINK).count == 80
    assert await fresh.learn_limits() == MastodonLimits(5000, None)
    assert len(fake_mastodon.requests) == asked


async def test_v2_instance_from_mastodon_social(fake_mastodon: FakeMastodon) -> None:
    assert await fetch_limits(fake_mastodon.base_url) == MastodonLimits(500, 23)
    asked = [path for method, path, _ in fake_mastodon.requests if "instance" in path]
    assert asked == ["/api/v2/instance"]  # v2 said it all


async def test_snac_limits_from_v1(snac_server: SnacServer, tmp_path: Path) -> None:
    async with httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0)) as http:
        v1 = (await http.get(f"{snac_server.base_url}/api/v1/instance")).json()
    statuses = v1["configuration"]["statuses"]
    found = await fetch_limits(snac_server.base_url)
    assert found == MastodonLimits(
        statuses["max_characters"], statuses["characters_reserved_per_url"]
    )
    assert found.characters_reserved_per_url == 32  # snac's own, not Mastodon's 23


async def test_unreachable_instance_is_not_cached(tmp_path: Path) -> None:
    from tests.servers.mastodon import free_port

    account = mastodon(f"http://127.0.0.1:{free_port()}")
    assert await fetch_limits(account.instance) is None
    dest = MastodonDestination(account, cache_dir=tmp_path)
    assert await dest.learn_limits() == MastodonLimits()
    assert not (tmp_path / LIMITS_FILE).exists()


def test_config_overrides_and_a_moved_instance(tmp_path: Path) -> None:
    cache = LimitsCache(tmp_path / LIMITS_FILE)
    cache.put(mastodon("https://a.example"), MastodonLimits(1000, None))
    dest = MastodonDestination(mastodon("https://a.example", url_length=23), cache_dir=tmp_path)
    assert dest.limits() == MastodonLimits(1000, 23)
    moved = MastodonDestination(mastodon("https://b.example"), cache_dir=tmp_path)
    assert moved.limits() == MastodonLimits()  # learnt from another instance: not used
    data = json.loads((tmp_path / LIMITS_FILE).read_text())
    assert data["m"]["instance"] == "https://a.example" and data["m"]["url_length"] is None
    cache.forget("m")
    assert json.loads((tmp_path / LIMITS_FILE).read_text()) == {}


@pytest.mark.parametrize("kind", ["micropub", "command", ATOM])
def test_destinations_without_limits(kind: str) -> None:
    dest = destination_for(Account(name="x", type=kind, command="true", path="/tmp/a"))
    verdict = dest.check("👨‍👩‍👧 " * 1000)
    assert verdict.ok and verdict.limit is None and verdict.count == 2000


# --- the Bluesky link card ---------------------------------------------------------------


async def test_link_card_text_is_cleaned_and_cut_on_a_word() -> None:
    summary = "\ufeffWords\x1b[31m that " + "repeat " * 60
    share = Share(id="s", item_id="i", comment="c", created="2026-11-27T10:00:00Z",
                  title="\ufeffA\x1b]0;x\x07 title\n", link=LINK)  # fmt: skip
    card = await link_card(share, Item(id="i", feed="f", summary=summary))
    assert card is not None
    assert card["title"] == "A title"
    description = card["description"]
    assert description.startswith("Words that repeat repeat")
    assert len(description) <= DESCRIPTION_MAX and description.endswith("repeat…")
    for odd in ("\ufeff", "\x1b", "\n"):
        assert odd not in card["title"] + description
    unsafe = Share(id="s", item_id="i", comment="c", created="x", link="javascript:alert(1)")
    assert await link_card(unsafe, None) is None
