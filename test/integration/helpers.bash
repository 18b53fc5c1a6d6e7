# Shared bats helpers: unique object names, cleanup registry, plugin calls.
# Every object a test creates is registered and removed in teardown, even on
# failure. Never touch objects this run did not create.

REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
BIN=${BIN:-$REPO/bin}
export CNI_PATH=${CNI_PATH_OVERRIDE:-$BIN}

# A short id unique to this test: names stay under the 15-byte ifname limit.
new_id() { head -c 3 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

setup_common() {
	TID=$(new_id)
	CLEANUP="$BATS_TEST_TMPDIR/cleanup.$TID"
	: > "$CLEANUP"
	TMP="$BATS_TEST_TMPDIR/t$TID"
	mkdir -p "$TMP"
}

# register a shell command to run at teardown (LIFO)
on_cleanup() { echo "$*" >> "$CLEANUP"; }

teardown_common() {
	[ -f "${CLEANUP:-}" ] || return 0
	tac "$CLEANUP" | while read -r cmd; do eval "$cmd" >/dev/null 2>&1 || true; done
	rm -f "$CLEANUP"
}

# netns_new NAME: create /run/netns/NAME (registered for removal)
netns_new() {
	ip netns add "$1"
	on_cleanup "ip netns del $1"
	ip -n "$1" link set lo up
}

# link_cleanup NAME: delete host link NAME at teardown
link_cleanup() { on_cleanup "ip link del $1"; }

# cni PLUGIN COMMAND NETNS IFNAME CONFIG [CONTAINERID]: run a plugin binary
# directly; use with bats `run`. CNI_ARGS is taken from the caller's env.
cni() {
	local plugin=$1 cmd=$2 netns=$3 ifname=$4 conf=$5 cid=${6:-ctr-$TID}
	printf '%s' "$conf" | env CNI_COMMAND="$cmd" CNI_CONTAINERID="$cid" CNI_NETNS="$netns" \
		CNI_IFNAME="$ifname" CNI_PATH="$CNI_PATH" CNI_ARGS="${CNI_ARGS:-}" "$BIN/$plugin"
}

# json_get JSON FILTER: jq -r on a string
json_get() { printf '%s' "$1" | jq -r "$2"; }

# skip_unless_kernel FEATURE CMD...: skip with the reason when CMD fails
# tool NAME: build the test driver test/tools/NAME.c against the build's
# libcnic.a (the sanitizer build's under SANITIZE=1) as $BATS_FILE_TMPDIR/NAME
tool() {
	local variant=rel san=
	if [ "${SANITIZE:-}" = 1 ]; then variant=san; san="-fsanitize=address,undefined"; fi
	cc -std=gnu11 -D_GNU_SOURCE -O1 -g $san -I"$REPO/include" $(pkg-config --cflags jansson libnl-3.0 libmnl libnftnl) \
		-o "$BATS_FILE_TMPDIR/$1" "$REPO/test/tools/$1.c" "$REPO/build/$variant/libcnic.a" \
		$(pkg-config --libs jansson libnl-3.0 libnl-route-3.0 libmnl libnftnl)
}

require_root() { [ "$(id -u)" = 0 ] || skip "needs root"; }
