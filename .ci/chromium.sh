#!/usr/bin/env sh
# Make a headless Chromium available for tests/report/test_browser.py (it fails in CI without one).
# Idempotent: does nothing when a browser is already on PATH. Exits non-zero when installing fails.
set -eu

for name in chromium chromium-browser google-chrome; do
    if command -v "$name" >/dev/null 2>&1; then
        echo "chromium.sh: $name already installed at $(command -v "$name")"
        exit 0
    fi
done

if ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium.sh: no chromium on PATH and no apt-get to install it with" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "chromium.sh: need root (or sudo) to install chromium" >&2
        exit 1
    fi
fi

echo "chromium.sh: installing chromium from the system packages"
echo "+ apt-get update"
$SUDO apt-get update
echo "+ apt-get install -y --no-install-recommends chromium"
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends chromium

if ! command -v chromium >/dev/null 2>&1; then
    echo "chromium.sh: chromium installed but not on PATH" >&2
    exit 1
fi
echo "chromium.sh: $(chromium --version 2>/dev/null || echo 'chromium installed')"
