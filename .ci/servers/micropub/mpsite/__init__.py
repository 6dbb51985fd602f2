"""A minimal Django site around django-indieweb's Micropub endpoint, for tests."""
