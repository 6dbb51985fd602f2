"""Persistence on TinyDB files: fast, crash-safe, shared by several processes. No Textual."""
