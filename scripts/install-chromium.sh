#!/usr/bin/env bash
# Headless Chromium and ChromeDriver (Debian packages) for the report's browser test.
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-chromium: not root; the browser test will be skipped" >&2
  exit 0
fi
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq chromium chromium-driver >/dev/null; }; then
  echo "install-chromium: apt-get failed; the browser test will be skipped" >&2
fi
