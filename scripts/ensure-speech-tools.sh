#!/bin/sh
# Debian's espeak-ng and sox synthesise the demo consultation and the tests' consultations (known words and turns).
if command -v espeak-ng >/dev/null 2>&1 && command -v sox >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's espeak-ng and sox (synthetic consultations)..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng sox) >/dev/null 2>&1 \
    || echo "warning: could not install espeak-ng and sox; the consultation demo is skipped and its tests fail" >&2
else
  echo "warning: espeak-ng or sox is missing; install them with: sudo apt-get install espeak-ng sox" >&2
fi
exit 0
