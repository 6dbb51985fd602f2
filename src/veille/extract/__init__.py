"""Full articles: fetch an item's page and keep only the article (issue 12).

Textual-free, like every layer below the TUI: the app, the CLI and the tests
drive the same two functions, :func:`fetch_article` (network, async) and
:func:`extract_article` (CPU, a plain function to run in a thread or process).
"""

from veille.extract.article import (
    MIN_ARTICLE_CHARS,
    Article,
    decode_html,
    extract_article,
    fetch_article,
)

__all__ = ["MIN_ARTICLE_CHARS", "Article", "decode_html", "extract_article", "fetch_article"]
