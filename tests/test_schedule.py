"""Poll scheduling rules with fixed clocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from veille.net.httputil import parse_max_age, parse_retry_after
from veille.refresh.schedule import (
    RETRY_AFTER_CAP_SECONDS,
    backoff_until,
    next_poll,
)
from veille.util.dates import until

NOW = datetime(2024, 3, 10, 12, 0, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)


# -- parse_retry_after ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        ("120", 120.0),
        (" 0 ", 0.0),
        ("1.5", 1.5),
        ("-5", None),
        ("soon", None),
        ("Sun, 10 Mar 2024 12:30:00 GMT", 1800.0),  # IMF-fixdate
        ("Sunday, 10-Mar-24 13:00:00 GMT", 3600.0),  # RFC 850
        ("Sun Mar 10 12:00:10 2024", 10.0),  # asctime, no zone: GMT
        ("Sun, 10 Mar 2024 11:00:00 GMT", 0.0),  # in the past
        ("Sun, 10 Mar 2024 14:00:00 +0200", 0.0),  # 12:00 UTC: now
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_parse_retry_after_with_naive_now_is_utc() -> None:
    naive = NOW.replace(tzinfo=None)
    assert parse_retry_after("Sun, 10 Mar 2024 12:01:00 GMT", naive) == 60.0


# -- parse_max_age --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("max-age=600", 600.0),
        ("public, max-age=3600, must-revalidate", 3600.0),
        ("Max-Age = 60", 60.0),
        ('max-age="90"', 90.0),
        ("s-maxage=600", None),  # shared caches only
        ("no-cache, max-age=600", None),
        ("max-age=600, no-store", None),
        ("private", None),
        ("max-age=abc", None),
        ("max-age=-1", None),
    ],
)
def test_parse_max_age(value: str | None, expected: float | None) -> None:
    assert parse_max_age(value) == expected


# -- next_poll -------------------------------------------------------------------------------


def test_next_poll_plain_interval() -> None:
    assert next_poll(NOW, 60) == NOW + HOUR
    assert next_poll(NOW, 7.5) == NOW + timedelta(minutes=7, seconds=30)


def test_next_poll_hints_never_shorten_the_interval() -> None:
    assert next_poll(NOW, 60, retry_after=30, max_age=120, ttl_minutes=5) == NOW + HOUR


@pytest.mark.parametrize(
    ("hints", "expected"),
    [
        ({"retry_after": 2 * 3600}, 2 * HOUR),
        ({"max_age": 3 * 3600}, 3 * HOUR),
        ({"ttl_minutes": 240}, 4 * HOUR),
        ({"retry_after": 7200, "max_age": 10800, "ttl_minutes": 90}, 3 * HOUR),  # largest wins
    ],
)
def test_next_poll_hints_push_later(hints: dict[str, float], expected: timedelta) -> None:
    assert next_poll(NOW, 30, **hints) == NOW + expected  # type: ignore[arg-type]


def test_next_poll_hints_are_capped() -> None:
    assert next_poll(NOW, 30, max_age=10 * 24 * 3600) == NOW + 24 * HOUR
    assert next_poll(NOW, 30, ttl_minutes=10_000, cap_hours=6) == NOW + 6 * HOUR


def test_next_poll_cap_never_below_interval() -> None:
    # A 48 h interval stays 48 h even though hints are capped at 24 h.
    assert next_poll(NOW, 48 * 60, retry_after=10 * 24 * 3600) == NOW + 48 * HOUR


def test_next_poll_ignores_negative_hints() -> None:
    assert next_poll(NOW, 15, retry_after=-100, max_age=-1, ttl_minutes=-5) == NOW + 15 * MIN


# -- backoff_until ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("errors", "expected"),
    [(1, 30 * MIN), (2, HOUR), (3, 2 * HOUR), (4, 4 * HOUR), (6, 16 * HOUR), (7, 24 * HOUR)],
)
def test_backoff_doubles_then_caps(errors: int, expected: timedelta) -> None:
    assert backoff_until(NOW, errors, 30) == NOW + expected


def test_backoff_huge_error_count_does_not_overflow() -> None:
    assert backoff_until(NOW, 10_000, 30) == NOW + 24 * HOUR


def test_backoff_zero_errors_is_the_interval() -> None:
    assert backoff_until(NOW, 0, 30) == NOW + 30 * MIN


def test_backoff_cap_never_below_interval() -> None:
    assert backoff_until(NOW, 5, 48 * 60) == NOW + 48 * HOUR


def test_backoff_custom_cap() -> None:
    assert backoff_until(NOW, 10, 30, cap_hours=2) == NOW + 2 * HOUR


def test_backoff_honours_retry_after_beyond_the_backoff() -> None:
    assert backoff_until(NOW, 1, 30, retry_after=3 * 3600) == NOW + 3 * HOUR
    # Even beyond the back-off cap: the server asked for two days.
    assert backoff_until(NOW, 1, 30, retry_after=2 * 24 * 3600) == NOW + 48 * HOUR
    # A short Retry-After does not shorten the back-off.
    assert backoff_until(NOW, 3, 30, retry_after=60) == NOW + 2 * HOUR


def test_backoff_absurd_retry_after_is_capped() -> None:
    until = backoff_until(NOW, 1, 30, retry_after=10 * 365 * 24 * 3600)
    assert until == NOW + timedelta(seconds=RETRY_AFTER_CAP_SECONDS)
    assert RETRY_AFTER_CAP_SECONDS == 7 * 24 * 3600


# -- until: when the next poll is ----------------------------------------------------------


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(0), "now"),
        (-5 * MIN, "now"),
        (timedelta(seconds=40), "in 40 s"),
        (timedelta(seconds=0.2), "in 1 s"),
        (MIN, "in 1 min"),
        (25 * MIN, "in 25 min"),
        (timedelta(minutes=25, seconds=20), "in 25 min"),
        (89 * MIN, "in 89 min"),
        (3 * HOUR, "in 3 h"),
        (timedelta(hours=2, minutes=40), "in 3 h"),
        (47 * HOUR, "in 47 h"),
        (3 * 24 * HOUR, "in 3 d"),
    ],
)
def test_describe_next(delta: timedelta, text: str) -> None:
    assert until(NOW + delta, NOW) == text
