#!/usr/bin/env bash
# Browser end-to-end tests (tests/browser/) inside a private network namespace
# that has only loopback: Chromium, the broker, rules and the bridge can reach
# nothing but 127.0.0.1. Needs root (unshare --net) and the packages below,
# which are installed here (before entering the namespace) when missing.
# Extra arguments go to pytest, e.g. tests/browser/run.sh -k test_1 -x.
set -euo pipefail
cd "$(dirname "$0")/../.."

pkgs=(chromium chromium-driver python3-selenium python3-pytest python3-websocket python3-jsonschema mosquitto)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

mkdir -p tests/artifacts
exec unshare --net -- sh -c 'ip link set lo up && exec /usr/bin/python3 -m pytest -q tests/browser "$@"' sh "$@"
