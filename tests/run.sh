#!/usr/bin/env bash
# The project's test command: installs what the tests need (Debian packages, Python
# dependencies) and runs the default (short) test profile. Pass extra pytest arguments
# through, e.g. `bash tests/run.sh -m slow` for the long fault runs.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" = 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends \
    pacemaker-cli-utils resource-agents fence-agents crmsh libxml2-utils nftables iproute2 \
    procps >/dev/null
fi
python3 -m pip install -q -e '.[test]'
status=0
python3 -m pytest -q "$@" || status=$?
# pytest exits 5 when no test ran: that is a failure of the suite, not a pass.
if [ "$status" = 5 ]; then echo "no test ran" >&2; exit 1; fi
exit "$status"
