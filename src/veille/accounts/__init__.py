"""Accounts on social servers and sites, and their secrets: used to read timelines
(sources) and to post shares (share).  No Textual, no store."""
