"""What the app's screens do, without Textual: views, triage, composing, reading.

Screens are layout and key handling; the decisions (which items a view shows,
what ``x`` changes and how ``u`` puts it back, which destinations a share goes
to, which paragraph ``>`` quotes) live here, where a plain test can reach them
and the CLI could reuse them.  Nothing in this package imports Textual.
"""
