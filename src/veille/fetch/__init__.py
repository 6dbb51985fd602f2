"""Getting entries in: HTTP, parsing, discovery, OPML, scheduling. No Textual."""
