# Guest-side helpers for the link plugins' netlab tests (plain bash + ip +
# jq, no bats in the guest). Each scenario prints one TAP line; the script
# ends with PASS or FAIL. The host side (test/integration/*-netlab.bats)
# asserts every line by its description.
set -u
export CNI_PATH=/opt/cni/bin
TAP_N=0 TAP_FAIL=0
LOGF=/tmp/scenario.log

# scenario DESCRIPTION FUNCTION: run FUNCTION under `set -e` in a subshell,
# print its output as TAP comments when it fails
scenario() {
	local desc=$1 fn=$2
	TAP_N=$((TAP_N + 1))
	# a failed scenario must not break the next ones: RESET undoes leftovers
	${RESET:-true} > /dev/null 2>&1
	# not inside `if`: bash ignores set -e in a tested context
	( set -ex; $fn ) > $LOGF 2>&1
	if [ $? = 0 ]; then
		echo "ok $TAP_N - $desc"
	else
		TAP_FAIL=$((TAP_FAIL + 1))
		sed 's/^/#   /' $LOGF | tail -30
		echo "not ok $TAP_N - $desc"
	fi
}

finish() {
	echo "1..$TAP_N"
	if [ $TAP_FAIL = 0 ]; then echo PASS; else echo FAIL; fi
}

# cni PLUGIN COMMAND NETNS IFNAME CONFIG [CONTAINERID]
cni() {
	local plugin=$1 cmd=$2 netns=$3 ifname=$4 conf=$5 cid=${6:-ctr1}
	printf '%s' "$conf" | env CNI_COMMAND="$cmd" CNI_CONTAINERID="$cid" CNI_NETNS="$netns" \
		CNI_IFNAME="$ifname" CNI_PATH="$CNI_PATH" CNI_ARGS="${CNI_ARGS:-}" "$CNI_PATH/$plugin"
}
# expect_fail CMD...: CMD must fail; its stdout is kept in $OUT
expect_fail() { if OUT=$("$@"); then echo "unexpected success: $OUT"; return 1; fi; return 0; }
jget() { printf '%s' "$1" | jq -r "$2"; }
ns_new() { ip netns add "$1"; ip -n "$1" link set lo up; }
ip_files() { ls "$1" 2>/dev/null | grep -c '^[0-9]' || true; }
