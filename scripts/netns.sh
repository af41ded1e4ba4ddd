#!/usr/bin/env bash
# A private network to try tapstack by hand: a network namespace `tapstack-NAME`
# holding a persistent TAP device whose kernel side has an address. tapstack runs
# INSIDE the namespace, so nothing in your normal (root) namespace changes.
#
#   sudo scripts/netns.sh up NAME [--tap tap0] [--ip 10.0.0.1/24] [--taps N] [--ipv6]
#   sudo scripts/netns.sh down NAME
#   sudo scripts/netns.sh status [NAME]
#
# Example:
#   sudo scripts/netns.sh up demo
#   sudo ip netns exec tapstack-demo tapstack up --tap tap0 --ip 10.0.0.2/24    # terminal 1
#   sudo ip netns exec tapstack-demo ping -c 3 10.0.0.2                         # terminal 2
#   sudo ip netns exec tapstack-demo tcpdump -ni tap0                           # or watch it
#   sudo scripts/netns.sh down demo
#
# With --taps N (N >= 2) you get tap0..tap{N-1} on a bridge br0 that carries the
# kernel address: one TAP per tapstack instance, e.g. an FTP server and a client.
#
# This is `tapstack netns` (src/cli/netns.ts, built on src/netns, the namespace
# builder the demo, the tests and the benchmarks use too); it needs `npm run build`.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ $# -eq 0 ]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
if [ ! -f "$root/dist/cli/main.js" ]; then
  echo "netns.sh: dist/ is not built: run 'npm run build' first" >&2
  exit 2
fi
exec node "$root/dist/cli/main.js" netns "$@"
