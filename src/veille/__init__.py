"""veille: a terminal feed reader for curators: read, triage, comment, reshare."""

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/veille-reader/veille"
USER_AGENT = f"veille/{__version__} (+{PROJECT_URL})"
