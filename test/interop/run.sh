#!/bin/bash
# libcni interop suite, TAP on stdout.
#
# Builds test/interop/driver (Go, GOPATH mode, offline, against Debian's
# golang-github-appc-cni-dev) into build/interop/, then for every scenario
# test/interop/scenarios/<name>.conflist, once per cniVersion listed in
# <name>.versions (one line, e.g. "1.0.0 0.4.0 0.3.1"; the conflist then says
# "cniVersion": "@VERSION@"), or once in the conflist's own version:
#   1. libcni AddNetworkList / CheckNetworkList / DelNetworkList against OUR
#      plugins ($INTEROP_BIN, default bin/), <name>.verify (bash, optional)
#      checking the kernel state and traffic after ADD;
#   2. bin/cnitool ADD (verify again), its cache read by libcni
#      (GetNetworkListCachedResult/Config), libcni CHECK and DEL;
#   3. libcni ADD, bin/cnitool CHECK and DEL from libcni's cache;
#   after every DEL: nothing left (no interface but lo in the container, no
#   port on the bridge, no address reservation, no attachment record, no
#   element of the network in nft table inet cni_c).
# Scenario files may use @NAME@ @TMP@ @BRIDGE@ @SUBNET@ (10.a.b.0/24) @NET3@
# (10.a.b) @PORT@ @VERSION@ @PARENT@; a conflist naming @PARENT@ gets a veth
# whose peer is @NET3@.254/24 in netns $PEERNS (macvlan-style scenarios).
# .verify gets RESULT (the ADD output), NSNAME, PEERNS, W (the temp dir), NET,
# PORT, NET3, VERSION and PHASE (libcni|cnitool); <name>.env (optional) is
# sourced for CAP_ARGS / CNI_ARGS. Our plugins keep their records in
# $W/state (CNI_C_STATE_DIR), the caches live in $W/cache: nothing under
# /var/lib/cni is touched. A scenario whose plugins are not built yet is
# reported as skipped, naming them.
# Mixed chains: <name>.ref lists plugin types taken from the reference suite
# ($REF_CNI, default /usr/lib/cni, Debian's containernetworking-plugins), as on
# a node where only some binaries were swapped: CNI_PATH is then a directory
# of links, each type to ours or to the reference's. Optional hooks, bash, with W, NET, NET3, NSNAME:
# <name>.setup before the first ADD, <name>.left after every DEL (extra
# "nothing left" checks), <name>.cleanup at the end (also on failure).
# Then a recorder plugin proves DEL gets the other tool's cached result as
# prevResult. Needs root (network namespaces); skips without go or root.
# ONLY=<glob> limits the scenarios (e.g. ONLY=bridge-portmap).
set -u
cd "$(dirname "$0")/../.."
REPO=$PWD
BIN=${BIN:-$REPO/bin}
PLUGINS=${INTEROP_BIN:-$BIN}
REF=${REF_CNI:-/usr/lib/cni}
OUT=$REPO/build/interop
DRIVER=$OUT/libcni-driver
mkdir -p "$OUT"
COUNTER=$OUT/tap-count # shared by the scenario subshells
echo 0 > "$COUNTER"
next() { local n; n=$(($(cat "$COUNTER") + 1)); echo $n > "$COUNTER"; echo $n; }

ok() { echo "ok $(next) - interop: $*"; }
notok() { echo "not ok $(next) - interop: $*"; }
skipped() { echo "ok $(next) - interop: $1 # skip $2"; }
# t DESC CMD...: one TAP line; the command's output as diagnostics on failure
t() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		ok "$desc"
	else
		notok "$desc"
		printf '%s\n' "$out" | tail -20 | sed 's/^/#   /'
	fi
}
finish() { echo "1..$(cat "$COUNTER")"; exit 0; }

if ! command -v go >/dev/null; then
	skipped "libcni driver" "go not installed (apt-get install golang-go golang-github-appc-cni-dev)"
	finish
fi
if [ ! -d /usr/share/gocode/src/github.com/containernetworking/cni/libcni ]; then
	skipped "libcni driver" "libcni source not installed (golang-github-appc-cni-dev)"
	finish
fi
if [ "$(id -u)" != 0 ]; then
	skipped "libcni scenarios" "need root for network namespaces"
	finish
fi
build() {
	env GO111MODULE=off GOFLAGS= GOPATH="/usr/share/gocode:$OUT/gopath" GOCACHE="$OUT/gocache" \
		go build -o "$DRIVER" ./test/interop/driver
}
t "build the libcni driver (Debian libcni, GOPATH mode)" build
[ -x "$DRIVER" ] || finish
[ -x "$BIN/cnitool" ] || { notok "bin/cnitool is built"; finish; }

new_id() { head -c 3 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
ver_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1)" = "$2" ]; } # $1 >= $2

W=""
NSNAME=""
PEERNS=""
BR=""
PARENT=""
GC_CONF=""
HOOKS="" # scenario base path while its hooks may run
hook() { # name: run <scenario>.<name> if there is one
	[ -n "$HOOKS" ] && [ -f "$HOOKS.$1" ] || return 0
	env W="$W" NET="$NET" NET3="${NET3:-}" NSNAME="$NSNAME" bash -c "set -e; . '$HOOKS.$1'"
}
cleanup() {
	hook cleanup >/dev/null 2>&1
	HOOKS=""
	# network-level objects (masquerade sets/rules of the network) go with a
	# GC that keeps nothing, sent straight to each plugin of the list
	if [ -n "$GC_CONF" ] && [ -f "$GC_CONF" ]; then
		local p
		for p in $(jq -r '.plugins[].type' "$GC_CONF" | sort -u); do
			jq -c --arg t "$p" '.plugins[] | select(.type == $t) | . + {cniVersion: "1.1.0", name: $n, "cni.dev/valid-attachments": []}' \
				--arg n "$(jq -r .name "$GC_CONF")" "$GC_CONF" | head -1 |
				CNI_COMMAND=GC CNI_PATH=$PLUGINS CNI_C_STATE_DIR=$W/state "$PLUGINS/$p" >/dev/null 2>&1
		done
	fi
	# the subnet is a network-level hairpin source of portmap (never removed by DEL)
	[ -n "${SUBNET:-}" ] && nft delete element inet cni_c pmsrc4 "{ $SUBNET }" 2>/dev/null
	[ -n "$NSNAME" ] && ip netns pids "$NSNAME" 2>/dev/null | xargs -r kill 2>/dev/null
	[ -n "$NSNAME" ] && ip netns del "$NSNAME" 2>/dev/null
	[ -n "$PEERNS" ] && ip netns del "$PEERNS" 2>/dev/null
	[ -n "$PARENT" ] && ip link del "$PARENT" 2>/dev/null
	[ -n "$BR" ] && ip link del "$BR" 2>/dev/null
	[ -n "$W" ] && rm -rf "$W"
	NSNAME="" PEERNS="" BR="" PARENT="" W="" GC_CONF="" SUBNET=""
}
trap cleanup EXIT

# Equal JSON, except that Debian's libcni 1.1.2 always prints "dns":{} in
# 1.0.0 results (no custom marshaller yet) where we omit an empty dns.
norm() { printf '%s' "$1" | jq -cS 'if type == "object" and .dns == {} then del(.dns) else . end'; }
same_json() {
	[ "$(norm "$1")" = "$(norm "$2")" ] && return 0
	echo "differs:"
	norm "$1"
	norm "$2"
	return 1
}

# nothing of attachment NET is left after a DEL (run in the scenario subshell)
leftovers() {
	local l bad=0
	l=$(ip -n "$NSNAME" -o link show | awk -F': ' '{print $2}' | grep -v '^lo$')
	[ -z "$l" ] || { echo "container interfaces left: $l"; bad=1; }
	if ip link show "$BR" >/dev/null 2>&1; then
		l=$(ip -o link show master "$BR" 2>/dev/null | awk -F': ' '{print $2}')
		[ -z "$l" ] || { echo "ports left on $BR: $l"; bad=1; }
	fi
	l=$(ls "$W/ipam/$NET" 2>/dev/null | grep -E '^[0-9a-f.:]+$')
	[ -z "$l" ] || { echo "address reservations left: $l"; bad=1; }
	l=$(find "$W/state" -path "*/$NET/*" 2>/dev/null)
	[ -z "$l" ] || { echo "attachment records left: $l"; bad=1; }
	l=$(nft -j list table inet cni_c 2>/dev/null | jq -r --arg n "$NET/" '.nftables[] | (.set // .map) | select(.) |
		.elem // [] | .[] | (if type == "array" then .[0] else . end) | .elem.comment? // empty | select(startswith($n))')
	[ -z "$l" ] || { echo "nft elements left: $l"; bad=1; }
	hook left || bad=1
	return $bad
}

run_scenario() { # file version
	local f=$1 ver=$2 base sc id conf types missing="" tp
	base=${f%.conflist}
	sc=$(basename "$base")
	[ -f "$base.versions" ] && sc="$sc-$ver"
	id=$(new_id)
	W=$(mktemp -d /tmp/cnic-interop.XXXXXX)
	NSNAME=cnii-$id
	NS=/run/netns/$NSNAME
	BR=cnib$id
	local net3="10.$((16#${id:0:2} % 200 + 20)).$((16#${id:2:2}))" port=$((20000 + 16#${id:0:4} % 20000))
	SUBNET=$net3.0/24
	mkdir -p "$W/net.d" "$W/cache" "$W/state"
	subst() {
		sed -e "s|@NAME@|i$id|g" -e "s|@TMP@|$W|g" -e "s|@BRIDGE@|$BR|g" -e "s|@SUBNET@|$SUBNET|g" \
			-e "s|@NET3@|$net3|g" -e "s|@PORT@|$port|g" -e "s|@VERSION@|$ver|g" -e "s|@PARENT@|cnip$id|g" "$1"
	}
	conf=$W/net.d/$sc.conflist
	subst "$f" > "$conf"
	GC_CONF=$conf
	local net=i$id path=$PLUGINS refs=""
	NET=$net NET3=$net3
	[ -f "$base.ref" ] && refs=$(cat "$base.ref")
	types=$(jq -r '.plugins[] | .type, (.ipam.type // empty)' "$conf" | sort -u)
	for tp in $types; do
		case " $refs " in *" $tp "*) continue ;; esac
		[ -x "$PLUGINS/$tp" ] || missing="$missing $tp"
	done
	if [ -n "$missing" ]; then
		skipped "$sc" "plugins not built yet:$missing"
		cleanup
		return
	fi
	if [ -n "$refs" ]; then
		for tp in $refs; do [ -x "$REF/$tp" ] || missing="$missing $tp"; done
		if [ -n "$missing" ]; then
			skipped "$sc" "reference plugins not in $REF:$missing (apt-get install containernetworking-plugins)"
			cleanup
			return
		fi
		# a plugin directory as on that node: each type ours or theirs
		mkdir -p "$W/bin"
		for tp in $types; do
			case " $refs " in *" $tp "*) ln -s "$REF/$tp" "$W/bin/$tp" ;; *) ln -s "$PLUGINS/$tp" "$W/bin/$tp" ;; esac
		done
		path=$W/bin
	fi
	HOOKS=$base
	if ! hook setup; then
		notok "$sc: scenario set-up hook"
		cleanup
		return
	fi
	if grep -q @PARENT@ "$f"; then
		PARENT=cnip$id PEERNS=cniip-$id
	fi
	(
		export CNI_PATH=$path NETCONFPATH=$W/net.d CNI_CACHE_DIR=$W/cache CNI_C_STATE_DIR=$W/state NSNAME NS
		unset CNI_ARGS CAP_ARGS CNI_IFNAME
		[ -f "$base.env" ] && { subst "$base.env" > "$W/env"; . "$W/env"; }
		ip netns add "$NSNAME" || exit 1
		if [ -n "$PARENT" ]; then
			ip netns add "$PEERNS" &&
				ip link add "$PARENT" type veth peer name eth0 netns "$PEERNS" &&
				ip link set "$PARENT" up &&
				ip -n "$PEERNS" addr add "$net3.254/24" dev eth0 &&
				ip -n "$PEERNS" link set eth0 up || exit 1
		fi
		CID=cnitool-$(printf '%s' "$NS" | sha512sum | cut -c1-20)
		CACHE=$W/cache/results/$net-$CID-eth0
		local verify=$base.verify check_ok=false
		ver_ge "$ver" 0.4.0 && check_ok=true
		verify() { # phase result-file
			[ -f "$verify" ] || return 0
			t "$sc: kernel state and traffic after $1 ADD" env RESULT="$(cat "$2")" NSNAME="$NSNAME" PEERNS="$PEERNS" \
				W="$W" NET="$net" PORT="$port" NET3="$net3" VERSION="$ver" PHASE="$1" \
				bash -c "set -e; . '$verify'"
		}
		nothing_left() { t "$sc: nothing left after $1" leftovers; }

		# 1. libcni drives our plugins
		# (t runs commands in a subshell: outputs go through files)
		lib_add() { "$DRIVER" add "$W/net.d" "$net" "$NS" > "$W/libcni-result" && [ "$(jq -r .cniVersion "$W/libcni-result")" = "$ver" ] && [ -f "$CACHE" ]; }
		t "$sc: libcni AddNetworkList (result $ver, cache written)" lib_add
		verify libcni "$W/libcni-result"
		if $check_ok; then
			t "$sc: libcni CheckNetworkList" "$DRIVER" check "$W/net.d" "$net" "$NS"
			t "$sc: bin/cnitool check reads libcni's cache" "$BIN/cnitool" check "$net" "$NS"
		else
			t "$sc: libcni refuses CHECK below 0.4.0" bash -c "! '$DRIVER' check '$W/net.d' '$net' '$NS'"
		fi
		lib_del() { "$DRIVER" del "$W/net.d" "$net" "$NS" && [ ! -e "$CACHE" ]; }
		t "$sc: libcni DelNetworkList (cache removed)" lib_del
		nothing_left "libcni DEL"

		# 2. cnitool's attachment and cache, used by libcni
		our_add() { "$BIN/cnitool" add "$net" "$NS" > "$W/ours" && [ -f "$CACHE" ]; }
		t "$sc: bin/cnitool add" our_add
		verify cnitool "$W/ours"
		lib_cached() { same_json "$("$DRIVER" cached "$W/net.d" "$net" "$NS")" "$(cat "$W/ours")"; }
		t "$sc: libcni GetNetworkListCachedResult reads cnitool's cache" lib_cached
		lib_cfg() {
			local c
			c=$("$DRIVER" cachedconfig "$W/net.d" "$net" "$NS") &&
				[ "$(printf '%s' "$c" | jq -r .config)" = "$(cat "$conf")" ] &&
				same_json "$(printf '%s' "$c" | jq -c '.capabilityArgs')" "${CAP_ARGS:-null}"
		}
		t "$sc: libcni GetNetworkListCachedConfig reads cnitool's config and capability args" lib_cfg
		$check_ok && t "$sc: libcni CheckNetworkList on cnitool's attachment" "$DRIVER" check "$W/net.d" "$net" "$NS"
		t "$sc: libcni DelNetworkList of cnitool's attachment" lib_del
		nothing_left "cnitool ADD + libcni DEL"

		# 3. libcni's attachment and cache, used by cnitool
		t "$sc: libcni AddNetworkList again" lib_add
		$check_ok && t "$sc: bin/cnitool check on libcni's attachment" "$BIN/cnitool" check "$net" "$NS"
		our_del() { "$BIN/cnitool" del "$net" "$NS" && [ ! -e "$CACHE" ]; }
		t "$sc: bin/cnitool del of libcni's attachment (cache removed)" our_del
		nothing_left "libcni ADD + cnitool DEL"

		# DEL again is fine for both
		t "$sc: repeated DEL succeeds (libcni, cnitool)" bash -c "'$DRIVER' del '$W/net.d' '$net' '$NS' && '$BIN/cnitool' del '$net' '$NS'"
		exit 0
	) || notok "$sc: scenario set-up"
	cleanup
}

for f in test/interop/scenarios/${ONLY:-*}.conflist; do
	if [ -f "${f%.conflist}.versions" ]; then
		for v in $(cat "${f%.conflist}.versions"); do run_scenario "$f" "$v"; done
	else
		run_scenario "$f" "$(jq -r .cniVersion "$f")"
	fi
done

# prevResult on DEL comes from the other tool's cache
recorder_test() {
	local id
	id=$(new_id)
	W=$(mktemp -d /tmp/cnic-interop.XXXXXX)
	NSNAME=cnii-$id
	mkdir -p "$W/net.d" "$W/cache" "$W/bin"
	cat > "$W/bin/recorder" <<'SH'
#!/bin/bash
in=$(cat)
printf '%s' "$in" > "$REC_DIR/$CNI_COMMAND.stdin"
[ "$CNI_COMMAND" = ADD ] && printf '%s' "$in" | jq .prevResult
[ "$CNI_COMMAND" = VERSION ] && echo '{"cniVersion":"1.0.0","supportedVersions":["1.0.0"]}'
exit 0
SH
	chmod +x "$W/bin/recorder"
	printf '{"cniVersion":"1.0.0","name":"r%s","plugins":[{"type":"loopback"},{"type":"recorder"}]}' "$id" \
		> "$W/net.d/r.conflist"
	(
		export CNI_PATH=$PLUGINS:$W/bin NETCONFPATH=$W/net.d CNI_CACHE_DIR=$W/cache REC_DIR=$W
		unset CNI_ARGS CAP_ARGS CNI_IFNAME
		NS=/run/netns/$NSNAME
		ip netns add "$NSNAME" || exit 1
		a() {
			"$DRIVER" add "$W/net.d" "r$id" "$NS" >/dev/null || return 1
			local cached
			cached=$("$DRIVER" cached "$W/net.d" "r$id" "$NS") || return 1
			"$BIN/cnitool" del "r$id" "$NS" || return 1
			same_json "$(jq -c .prevResult "$W/DEL.stdin")" "$cached"
		}
		t "cnitool DEL gets libcni's cached result as prevResult" a
		b() {
			local r
			r=$("$BIN/cnitool" add "r$id" "$NS") || return 1
			"$DRIVER" del "$W/net.d" "r$id" "$NS" || return 1
			same_json "$(jq -c .prevResult "$W/DEL.stdin")" "$r"
		}
		t "libcni DEL gets cnitool's cached result as prevResult" b
		exit 0
	) || notok "recorder set-up"
	cleanup
}
if [ -x "$PLUGINS/loopback" ]; then recorder_test; else skipped "cache prevResult cross-check" "loopback not built"; fi
finish
