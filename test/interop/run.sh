#!/bin/bash
# libcni interop suite, TAP on stdout.
#
# Builds test/interop/driver (Go, GOPATH mode, offline, against Debian's
# golang-github-appc-cni-dev) into build/interop/, then for every scenario
# test/interop/scenarios/<name>.conflist:
#   - libcni AddNetworkList / CheckNetworkList / DelNetworkList against OUR
#     plugins ($INTEROP_BIN, default bin/), with <name>.verify (bash,
#     optional) checking the kernel state after ADD;
#   - cache interop both ways: libcni's cache read by bin/cnitool, and
#     cnitool's cache read by libcni (GetNetworkListCachedResult/Config).
# Scenario files may use @NAME@ @TMP@ @BRIDGE@ @SUBNET@ @PORT@; .verify gets
# RESULT (libcni's ADD output), NSNAME, W (the temp dir) and NET; <name>.env
# (optional) is sourced for CAP_ARGS / CNI_ARGS. A scenario whose plugins
# are not built yet is reported as skipped, naming them.
# Then a recorder plugin proves DEL gets the other tool's cached result as
# prevResult. Needs root (network namespaces); skips without go or root.
set -u
cd "$(dirname "$0")/../.."
REPO=$PWD
BIN=${BIN:-$REPO/bin}
PLUGINS=${INTEROP_BIN:-$BIN}
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
BR=""
cleanup() {
	[ -n "$NSNAME" ] && ip netns del "$NSNAME" 2>/dev/null
	[ -n "$BR" ] && ip link del "$BR" 2>/dev/null
	[ -n "$W" ] && rm -rf "$W"
	NSNAME="" BR="" W=""
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

run_scenario() { # file
	local f=$1 sc id conf ver types missing="" tp
	sc=$(basename "$f" .conflist)
	id=$(new_id)
	W=$(mktemp -d /tmp/cnic-interop.XXXXXX)
	NSNAME=cnii-$id
	NS=/run/netns/$NSNAME
	BR=cnib$id
	local subnet="10.$((16#${id:0:2} % 200 + 20)).$((16#${id:2:2})).0/24" port=$((20000 + 16#${id:0:4} % 20000))
	mkdir -p "$W/net.d" "$W/cache"
	subst() { sed -e "s|@NAME@|i$id|g" -e "s|@TMP@|$W|g" -e "s|@BRIDGE@|$BR|g" -e "s|@SUBNET@|$subnet|g" -e "s|@PORT@|$port|g" "$1"; }
	conf=$W/net.d/$sc.conflist
	subst "$f" > "$conf"
	local net=i$id
	ver=$(jq -r .cniVersion "$conf")
	types=$(jq -r '.plugins[] | .type, (.ipam.type // empty)' "$conf" | sort -u)
	for tp in $types; do [ -x "$PLUGINS/$tp" ] || missing="$missing $tp"; done
	if [ -n "$missing" ]; then
		skipped "$sc" "plugins not built yet:$missing"
		cleanup
		return
	fi
	(
		export CNI_PATH=$PLUGINS NETCONFPATH=$W/net.d CNI_CACHE_DIR=$W/cache NSNAME NS
		unset CNI_ARGS CAP_ARGS CNI_IFNAME
		[ -f "${f%.conflist}.env" ] && { subst "${f%.conflist}.env" > "$W/env"; . "$W/env"; }
		ip netns add "$NSNAME" || exit 1
		CID=cnitool-$(printf '%s' "$NS" | sha512sum | cut -c1-20)
		CACHE=$W/cache/results/$net-$CID-eth0
		local verify=${f%.conflist}.verify check_ok=false
		ver_ge "$ver" 0.4.0 && check_ok=true

		# libcni drives our plugins
		# (t runs commands in a subshell: outputs go through files)
		lib_add() { "$DRIVER" add "$W/net.d" "$net" "$NS" > "$W/libcni-result" && [ "$(jq -r .cniVersion "$W/libcni-result")" = "$ver" ] && [ -f "$CACHE" ]; }
		t "$sc: libcni AddNetworkList (result $ver, cache written)" lib_add
		if [ -f "$verify" ]; then t "$sc: kernel state after libcni ADD" bash -c "RESULT=\$(cat '$W/libcni-result'); NSNAME='$NSNAME' W='$W' NET='$net'; set -e; . '$verify'"; fi
		if $check_ok; then
			t "$sc: libcni CheckNetworkList" "$DRIVER" check "$W/net.d" "$net" "$NS"
			t "$sc: bin/cnitool check reads libcni's cache" "$BIN/cnitool" check "$net" "$NS"
		else
			t "$sc: libcni refuses CHECK below 0.4.0" bash -c "! '$DRIVER' check '$W/net.d' '$net' '$NS'"
		fi
		lib_del() { "$DRIVER" del "$W/net.d" "$net" "$NS" && [ ! -e "$CACHE" ]; }
		t "$sc: libcni DelNetworkList (cache removed)" lib_del

		# cnitool's cache read by libcni
		our_add() { "$BIN/cnitool" add "$net" "$NS" > "$W/ours" && [ -f "$CACHE" ]; }
		t "$sc: bin/cnitool add" our_add
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
		# DEL again is fine for both
		t "$sc: repeated DEL succeeds (libcni, cnitool)" bash -c "'$DRIVER' del '$W/net.d' '$net' '$NS' && '$BIN/cnitool' del '$net' '$NS'"
		exit 0
	) || notok "$sc: scenario set-up"
	cleanup
}

for f in test/interop/scenarios/*.conflist; do
	run_scenario "$f"
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
