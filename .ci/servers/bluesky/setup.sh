#!/bin/sh
# Install the reference Bluesky PDS (@atproto/pds 0.4.x, the last line that runs
# on Node 20) and an in-memory PLC directory (@did-plc/server) from npm, so tests
# can post to a genuine PDS on loopback, offline.
# Packages go to $REPO/.cache/bluesky (git-ignored; BLUESKY_PDS_MODULES overrides),
# exactly as pinned by package-lock.json. Idempotent: returns at once when the
# installed lock file matches the committed one.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
DEST=${BLUESKY_PDS_MODULES:-$REPO/.cache/bluesky}
STAMP="$DEST/.installed-package-lock.json"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "node and npm are required (Node >= 18.7)" >&2
    exit 1
fi

if [ -f "$STAMP" ] && cmp -s "$STAMP" "$HERE/package-lock.json" \
    && [ -d "$DEST/node_modules/@atproto/pds" ] && [ -d "$DEST/node_modules/@did-plc/server" ]; then
    echo "Bluesky PDS already installed in $DEST"
    exit 0
fi

mkdir -p "$DEST"
cp "$HERE/package.json" "$HERE/package-lock.json" "$DEST/"
# better-sqlite3 has no reachable prebuilt binary offline: it compiles against
# the local Node headers (Debian's nodejs ships them in /usr/include/node).
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node.h ]; then
    npm_config_nodedir=/usr
    export npm_config_nodedir
fi
(cd "$DEST" && npm ci --no-audit --no-fund --loglevel=error)
# Fail here, not in the tests, when the native module did not build.
(cd "$DEST" && node -e "new (require('better-sqlite3'))(':memory:').close()")
cp "$HERE/package-lock.json" "$STAMP"
echo "Bluesky PDS installed in $DEST"
