"""util/dates: the one place times are written, read and said."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from veille.net.httputil import parse_rate_limit_reset, parse_retry_after
from veille.util.dates import age, iso, parse_http_date, parse_iso, relative, until

REF = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)


def test_iso_round_trips_and_sorts_as_text() -> None:
    assert iso(REF) == "2026-11-27T10:00:00Z"
    assert parse_iso(iso(REF)) == REF
    precise = iso(REF + timedelta(microseconds=5), precise=True)
    assert precise == "2026-11-27T10:00:00.000005Z"
    assert parse_iso(precise) == REF + timedelta(microseconds=5)
    assert str(iso(REF - timedelta(seconds=1))) < precise < str(iso(REF + timedelta(seconds=1)))
    assert iso(None) is None
    # Naive means UTC, whatever the machine's zone (as parse_iso reads it back).
    assert iso(datetime(2026, 11, 27, 10, 0, 0)) == "2026-11-27T10:00:00Z"


@pytest.mark.parametrize("value", [None, "", "yesterday", 1732700000, ["2026-11-27"], "  "])
def test_parse_iso_gives_none_for_what_it_cannot_read(value: object) -> None:
    assert parse_iso(value) is None


def test_parse_iso_reads_api_times() -> None:
    assert parse_iso("2026-11-27T11:00:00+01:00") == REF
    assert parse_iso("2026-11-27T10:00:00.000Z") == REF
    assert parse_iso("2026-11-27T10:00:00") == REF  # no zone: UTC


def test_parse_http_date() -> None:
    assert parse_http_date("Fri, 27 Nov 2026 10:00:00 GMT") == REF
    assert parse_http_date("Fri, 27 Nov 2026 10:00:00 -0000") == REF
    assert parse_http_date("Fri, 27 Nov 2026 11:00:00 +0100") == REF
    for bad in (None, "", "soon", 42):
        assert parse_http_date(bad) is None


def test_headers_are_read_with_the_same_rules() -> None:
    assert parse_retry_after("Fri, 27 Nov 2026 10:01:00 GMT", REF) == 60.0
    assert parse_rate_limit_reset("2026-11-27T10:02:00Z", REF) == 120.0
    assert parse_rate_limit_reset("2026-11-27T10:02:00", REF) == 120.0


@pytest.mark.parametrize(
    ("delta", "said"),
    [
        (timedelta(seconds=-5), "now"),
        (timedelta(0), "now"),
        (timedelta(seconds=40.2), "in 41 s"),
        (timedelta(minutes=25), "in 25 min"),
        (timedelta(hours=3), "in 3 h"),
        (timedelta(days=3), "in 3 d"),
    ],
)
def test_until(delta: timedelta, said: str) -> None:
    assert until(REF + delta, REF) == said


@pytest.mark.parametrize(
    ("stored", "said"),
    [
        (None, "never"),
        ("garbage", "never"),
        ("2026-11-27T10:25:00Z", "in 25 min"),
        ("2026-11-27T09:59:30Z", "just now"),
        ("2026-11-27T07:00:00Z", "3h ago"),
        ("2026-11-13T10:00:00Z", "2w ago"),
    ],
)
def test_relative(stored: str | None, said: str) -> None:
    assert relative(stored, REF) == said


def test_age() -> None:
    assert age("2026-11-27T09:55:00Z", REF) == "5m"
    assert age("2026-11-25T10:00:00Z", REF) == "2d"
    assert age("2024-11-27T10:00:00Z", REF) == "2y"
    assert age(None, REF) == ""
