#!/bin/sh
# The test of the production front (tests/security/test_sec_front.py) runs Debian's nginx with the shipped config.
# Install it when missing and we are allowed to, without starting the system service (policy-rc.d refuses it).
if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's nginx for the front-end test..."
  made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
  fi
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx) >/dev/null 2>&1 \
    || echo "warning: could not install nginx; the front-end test will fail" >&2
  [ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
else
  echo "warning: nginx is missing; install it with: sudo apt-get install nginx" >&2
fi
exit 0
