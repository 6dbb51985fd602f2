#!/bin/sh
# Install django-indieweb (a genuine Micropub endpoint) into its own venv at
# <repo>/.cache/micropub-venv, so Django never becomes a veille dependency.
# Idempotent: a stamp holding the requirements' checksum skips the install.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
VENV="$REPO/.cache/micropub-venv"
REQ="$HERE/requirements.txt"
STAMP="$VENV/.requirements.sha256"
PYTHON=${PYTHON:-python3}

want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    echo "micropub venv up to date: $VENV"
    exit 0
fi

mkdir -p "$REPO/.cache"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ"
"$VENV/bin/python" -c "import django, indieweb; print('django', django.get_version())"
echo "$want" > "$STAMP"
echo "micropub venv ready: $VENV"
