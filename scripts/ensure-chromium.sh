#!/bin/sh
# Browser tests drive Debian's Chromium (no browser download). Install it when missing and we are allowed to.
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) >/dev/null 2>&1 \
    || echo "warning: could not install chromium; browser tests will fail" >&2
else
  echo "warning: chromium is missing; install it with: sudo apt-get install chromium" >&2
fi
