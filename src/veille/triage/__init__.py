"""Triage outside the app: saved views and their counts, for the CLI and the
app alike.  No Textual."""
