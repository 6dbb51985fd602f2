#!/bin/sh
# Install snac2 (a small ActivityPub server with the Mastodon client API) from
# Debian bookworm-backports, so tests can post to a genuine server on loopback.
# Idempotent: returns at once when `snac` is already on PATH. Run as root.
set -eu

if command -v snac >/dev/null 2>&1; then
    echo "snac already installed: $(command -v snac)"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

LIST=/etc/apt/sources.list.d/bookworm-backports.sources
if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    # Same mirror as the existing Debian entry (deb822 format).
    $SUDO tee "$LIST" >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi

$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    -t bookworm-backports snac2
command -v snac
