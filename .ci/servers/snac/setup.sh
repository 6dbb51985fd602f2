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
    # The same mirror as the machine's existing Debian entry (deb822 or one-line format).
    MIRROR=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | grep -v security \
        | head -n 1 | awk '{print $2}')
    if [ -z "$MIRROR" ]; then
        MIRROR=$(grep -hs '^deb ' /etc/apt/sources.list | grep -v security \
            | head -n 1 | awk '{print $2}')
    fi
    if [ -z "$MIRROR" ]; then
        echo "no Debian entry in apt's sources to copy the mirror from" >&2
        exit 1
    fi
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: %s\n' \
        "$MIRROR" /usr/share/keyrings/debian-archive-keyring.gpg | $SUDO tee "$LIST" >/dev/null
fi

$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    -t bookworm-backports snac2
command -v snac
