"""Turning feed text into safe terminal text: hygiene, HTML rendering, link numbering."""
