"""Settings for the test Micropub site: sqlite and posts kept in MICROPUB_DATA_DIR."""

import os
from pathlib import Path

DATA_DIR = Path(os.environ.get("MICROPUB_DATA_DIR", Path(__file__).resolve().parent / "data"))

SECRET_KEY = "veille-tests-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sites",
    "indieweb",
]
SITE_ID = 1
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "mpsite.urls"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(DATA_DIR / "db.sqlite3"),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": []},
    }
]

# The handler that makes posts persistent (django-indieweb's default keeps them
# in memory per request, which a test could not read back).
INDIEWEB_MICROPUB_HANDLER = "mpsite.handler.JsonFileHandler"
MICROPUB_POSTS_FILE = DATA_DIR / "posts.json"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
