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
# Why inside a namespace: a persistent TAP can only be opened from the namespace it
# lives in, and our rules keep every address and route out of the root namespace.
# The device is created with `ip -n NS tuntap add`, i.e. directly inside the
# namespace; it stays (persistent) until `down` deletes the namespace, which deletes
# the devices in it. IPv6 is off by default so the kernel does not chatter (router
# solicitations, MLD); --ipv6 keeps it on.
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}
die() {
  echo "netns.sh: $*" >&2
  exit 2
}

[ $# -ge 1 ] || usage
command=$1
shift

check_name() {
  [[ ${1:-} =~ ^[a-z0-9][a-z0-9-]{0,19}$ ]] || die "NAME must be 1-20 of [a-z0-9-], got '${1:-}'"
}
need_root() {
  [ "$(id -u)" -eq 0 ] || die "needs root (namespaces and TAP devices need CAP_NET_ADMIN): run with sudo"
}

case "$command" in
  up)
    [ $# -ge 1 ] || usage
    name=$1
    shift
    check_name "$name"
    tap=tap0
    cidr=10.0.0.1/24
    taps=1
    ipv6=0
    while [ $# -gt 0 ]; do
      case "$1" in
        --tap) tap=${2:?--tap needs a name}; shift 2 ;;
        --ip) cidr=${2:?--ip needs ADDR/PREFIX}; shift 2 ;;
        --taps) taps=${2:?--taps needs a number}; shift 2 ;;
        --ipv6) ipv6=1; shift ;;
        *) die "unknown option '$1' (see: scripts/netns.sh with no arguments)" ;;
      esac
    done
    [[ $cidr =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$ ]] || die "--ip must look like 10.0.0.1/24, got '$cidr'"
    [[ $taps =~ ^[1-8]$ ]] || die "--taps must be 1 to 8, got '$taps'"
    [[ $tap =~ ^[a-zA-Z0-9_.-]{1,14}$ ]] || die "--tap must be 1-14 of [a-zA-Z0-9_.-], got '$tap'"
    need_root
    ns=tapstack-$name
    if ip netns list | grep -qx "$ns\( (id: [0-9]*)\)\?"; then
      die "$ns already exists (remove it with: scripts/netns.sh down $name)"
    fi

    ip netns add "$ns"
    # From here on, a failure removes the half-built namespace again.
    trap 'ip netns delete "$ns" 2>/dev/null || true; echo "netns.sh: setup failed, $ns removed" >&2' ERR
    ip -n "$ns" link set lo up
    if [ "$ipv6" -eq 0 ]; then
      ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    fi

    devices=()
    if [ "$taps" -eq 1 ]; then
      devices=("$tap")
    else
      base=${tap%%[0-9]*}
      for ((i = 0; i < taps; i++)); do devices+=("$base$i"); done
    fi
    for dev in "${devices[@]}"; do
      # Persistent TAP created inside the namespace; tapstack attaches to it by name.
      ip -n "$ns" tuntap add dev "$dev" mode tap
    done
    if [ "$taps" -eq 1 ]; then
      kernel_dev=$tap
    else
      kernel_dev=br0
      ip -n "$ns" link add br0 type bridge forward_delay 0 stp_state 0
      for dev in "${devices[@]}"; do ip -n "$ns" link set "$dev" master br0; done
      ip -n "$ns" link set br0 up
    fi
    ip -n "$ns" addr add "$cidr" dev "$kernel_dev"
    for dev in "${devices[@]}"; do ip -n "$ns" link set "$dev" up; done
    trap - ERR

    kernel_ip=${cidr%/*}
    prefix=${cidr#*/}
    # Suggest the next address for the stack (good enough for a /24 demo).
    IFS=. read -r a b c d <<<"$kernel_ip"
    echo "$ns is up: kernel side $cidr on $kernel_dev, TAP device(s): ${devices[*]}"
    for dev in "${devices[@]}"; do
      d=$((d + 1))
      echo "  sudo ip netns exec $ns tapstack up --tap $dev --ip $a.$b.$c.$d/$prefix"
    done
    echo "  sudo ip netns exec $ns ping -c 3 $a.$b.$c.$((${kernel_ip##*.} + 1))"
    echo "  sudo scripts/netns.sh down $name"
    ;;

  down)
    [ $# -eq 1 ] || usage
    check_name "$1"
    need_root
    ns=tapstack-$1
    if ! ip netns list | grep -qx "$ns\( (id: [0-9]*)\)\?"; then
      echo "$ns does not exist (nothing to do)"
      exit 0
    fi
    # Deleting the namespace deletes the TAP devices and the bridge inside it.
    ip netns delete "$ns"
    echo "$ns removed"
    ;;

  status)
    need_root
    if [ $# -eq 1 ]; then
      check_name "$1"
      ip -n "tapstack-$1" -br link
      ip -n "tapstack-$1" -br addr
    else
      ip netns list | grep '^tapstack-' || echo "no tapstack-* namespaces"
    fi
    ;;

  *) usage ;;
esac
