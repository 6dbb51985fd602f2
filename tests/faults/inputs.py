"""Odd input: bad URLs, out-of-range config, writes through links (issue 8, part 2-4)."""

from __future__ import annotations
