#!/bin/sh
# Install what building and testing need from Debian's archive, only when missing.
set -e
PKGS="build-essential pkg-config libjansson-dev libnl-3-dev libnl-route-3-dev libmnl-dev libnftnl-dev
      iproute2 nftables iputils-ping curl socat bats jq procps kmod conntrack
      golang-go golang-github-appc-cni-dev valgrind strace containernetworking-plugins"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
if [ "$(id -u)" != 0 ]; then echo "deps: need root to apt-get install$missing" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends $missing >&2
