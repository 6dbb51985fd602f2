"""Screens of the veille app."""
