"""Micropub at /indieweb/micropub/, plus a public page per stored post."""

from django.urls import include, path

from mpsite.handler import entry_view

urlpatterns = [
    path("indieweb/", include("indieweb.urls")),
    path("entries/<int:number>/", entry_view, name="entry"),
]
