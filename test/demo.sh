#!/bin/bash
# make demo: attach a fresh network namespace to a bridge with cnitool and the
# conflist conf-examples/demo.conflist, show what the container got, ping the
# gateway, detach, and show that nothing is left behind.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
NS=cnic-demo-$$
NSPATH=/run/netns/$NS
export NETCONFPATH=$REPO/conf-examples CNI_PATH=$REPO/bin CNI_CACHE_DIR=/run/cni-c-demo/cache
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cleanup() {
	"$REPO/bin/cnitool" del cnic-demo "$NSPATH" >/dev/null 2>&1 || true
	# nothing of the network is valid any more: drops its nftables sets and rules
	CNI_VALID_ATTACHMENTS='[]' "$REPO/bin/cnitool" gc cnic-demo >/dev/null 2>&1 || true
	ip netns del "$NS" 2>/dev/null || true
	ip link del cnic-demo0 2>/dev/null || true
	rm -rf /run/cni-c-demo
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] || { echo "make demo needs root (network namespaces)"; exit 1; }

step "create a network namespace: ip netns add $NS"
ip netns add "$NS"

PORT=18080
export CAP_ARGS='{"portMappings":[{"hostPort":'$PORT',"containerPort":80,"protocol":"tcp"}]}'
step "cnitool add cnic-demo $NSPATH   (bridge + host-local, portmap $PORT->80, loopback)"
"$REPO/bin/cnitool" add cnic-demo "$NSPATH"

step "inside the container: interfaces, addresses, routes"
ip -n "$NS" -br addr
ip -n "$NS" route

step "on the host: the bridge and its port"
ip -br addr show cnic-demo0
ip -br link show master cnic-demo0

step "ping the gateway from the container"
ip netns exec "$NS" ping -c 2 -W 2 10.199.0.1

step "a web server in the container, reached through the published port"
ip netns exec "$NS" socat TCP-LISTEN:80,fork,reuseaddr SYSTEM:'echo HTTP/1.0 200 OK; echo; echo hello from the container' &
SRV=$!
for _ in $(seq 50); do ip netns exec "$NS" ss -Hltn 'sport = :80' | grep -q . && break; sleep 0.1; done
echo "curl http://127.0.0.1:$PORT/  (localhost, DNAT + route_localnet)"; curl -s --max-time 5 "http://127.0.0.1:$PORT/"
echo "curl http://10.199.0.1:$PORT/  (host address on the bridge)"; curl -s --max-time 5 "http://10.199.0.1:$PORT/"
echo "from the container to its own published port (hairpin)"
ip netns exec "$NS" curl -s --max-time 5 "http://10.199.0.1:$PORT/"
kill $SRV 2>/dev/null; wait $SRV 2>/dev/null || true

step "cnitool check, then cnitool del"
"$REPO/bin/cnitool" check cnic-demo "$NSPATH" && echo "check: ok"
"$REPO/bin/cnitool" del cnic-demo "$NSPATH" && echo "del: ok"

step "what is left: container interfaces, bridge ports, IP reservations, cache"
ip -n "$NS" -br link
echo "ports on cnic-demo0: $(ip -br link show master cnic-demo0 | wc -l)"
echo "reservations: $(ls /run/cni-c-demo/ipam/cnic-demo 2>/dev/null | grep -c '^[0-9]' || true)"
echo "cached results: $(ls /run/cni-c-demo/cache/results 2>/dev/null | wc -l)"
echo "published ports: $(nft -j list map inet cni_c pm4 2>/dev/null | jq '[.nftables[].map.elem // [] | .[]] | length')"
step "done (the demo bridge and namespace are removed on exit)"
