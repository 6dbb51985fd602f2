"""Widgets of the veille app."""
