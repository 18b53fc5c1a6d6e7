#!/usr/bin/env bats
# CNI protocol behaviour shared by every plugin (reference section 3.3, 1-7),
# checked on the loopback plugin.
load helpers

setup() { setup_common; netns_new "cnic-$TID"; NS=/run/netns/cnic-$TID; }
teardown() { teardown_common; }

CONF='{"cniVersion":"1.1.0","name":"lonet","type":"loopback"}'

@test "VERSION lists 0.1.0 to 1.1.0 and echoes the input version" {
	run bash -c "echo '{\"cniVersion\":\"0.4.0\"}' | CNI_COMMAND=VERSION $BIN/loopback"
	[ "$status" -eq 0 ]
	[ "$(json_get "$output" .cniVersion)" = 0.4.0 ]
	[ "$(json_get "$output" '.supportedVersions|join(",")')" = "0.1.0,0.2.0,0.3.0,0.3.1,0.4.0,1.0.0,1.1.0" ]
}

@test "missing CNI_COMMAND prints the about text and exits 0" {
	run bash -c "env -u CNI_COMMAND $BIN/loopback 2>&1 </dev/null"
	[ "$status" -eq 0 ]
	[[ "$output" == *"CNI loopback plugin"* ]]
	[[ "$output" == *"CNI protocol versions supported: 0.1.0"* ]]
}

@test "unknown CNI_COMMAND is code 4" {
	run cni loopback FOO "$NS" eth0 "$CONF"
	[ "$status" -eq 1 ]
	[ "$(json_get "$output" .code)" = 4 ]
	[[ "$(json_get "$output" .msg)" == *FOO* ]]
}

@test "each missing required variable is code 4 naming it" {
	for var in CNI_CONTAINERID CNI_NETNS CNI_IFNAME; do
		run bash -c "printf '%s' '$CONF' | env CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS=$NS CNI_IFNAME=eth0 $var= $BIN/loopback"
		[ "$status" -eq 1 ]
		[ "$(json_get "$output" .code)" = 4 ]
		[[ "$(json_get "$output" .msg)" == *"$var"* ]]
		[ "$(json_get "$output" .cniVersion)" = 1.1.0 ]
	done
}

@test "invalid interface names and container ids are code 4" {
	for ifn in 0123456789abcdef . .. a/b a:b "a b"; do
		run cni loopback ADD "$NS" "$ifn" "$CONF"
		[ "$status" -eq 1 ]
		[ "$(json_get "$output" .code)" = 4 ]
		[[ "$(json_get "$output" .msg)" == *CNI_IFNAME* ]]
	done
	run cni loopback ADD "$NS" eth0 "$CONF" "-bad"
	[ "$status" -eq 1 ]
	[ "$(json_get "$output" .code)" = 4 ]
	[[ "$(json_get "$output" .msg)" == *CNI_CONTAINERID* ]]
}

@test "malformed JSON is 6, missing name is 7, unknown version is 1" {
	run cni loopback ADD "$NS" eth0 '{"cniVersion":'
	[ "$(json_get "$output" .code)" = 6 ]
	run cni loopback ADD "$NS" eth0 '{"cniVersion":"1.0.0","type":"loopback"}'
	[ "$(json_get "$output" .code)" = 7 ]
	[[ "$(json_get "$output" .msg)" == *"network name"* ]]
	run cni loopback ADD "$NS" eth0 '{"cniVersion":"9.9.9","name":"x"}'
	[ "$(json_get "$output" .code)" = 1 ]
	[[ "$(json_get "$output" .details)" == *9.9.9* ]]
}

@test "CHECK below 0.4.0 and STATUS/GC below 1.1.0 are code 1" {
	run cni loopback CHECK "$NS" eth0 '{"cniVersion":"0.3.1","name":"x"}'
	[ "$status" -eq 1 ]; [ "$(json_get "$output" .code)" = 1 ]
	for c in STATUS GC; do
		run bash -c "echo '{\"cniVersion\":\"1.0.0\",\"name\":\"x\"}' | CNI_COMMAND=$c CNI_PATH=$BIN $BIN/loopback"
		[ "$status" -eq 1 ]; [ "$(json_get "$output" .code)" = 1 ]
	done
}

@test "STATUS and GC at 1.1.0 succeed with no output on loopback" {
	for c in STATUS GC; do
		run bash -c "echo '$CONF' | CNI_COMMAND=$c CNI_PATH=$BIN $BIN/loopback"
		[ "$status" -eq 0 ]; [ -z "$output" ]
	done
}

@test "oversized stdin is an I/O error, not an OOM" {
	run bash -c "head -c 10000000 /dev/zero | CNI_COMMAND=ADD CNI_CONTAINERID=c CNI_NETNS=$NS CNI_IFNAME=eth0 $BIN/loopback"
	[ "$status" -eq 1 ]
	[ "$(json_get "$output" .code)" = 5 ]
}

@test "CNI_NETNS that is not a namespace, or our own, is refused before acting" {
	run cni loopback ADD /etc/hostname eth0 "$CONF"
	[ "$(json_get "$output" .code)" = 4 ]
	[[ "$(json_get "$output" .msg)" == *"not a network namespace"* ]]
	run cni loopback ADD /proc/self/ns/net eth0 "$CONF"
	[ "$(json_get "$output" .code)" = 4 ]
	[[ "$(json_get "$output" .msg)" == *"own network namespace"* ]]
	# lo of the host stays up: nothing was done
	ip link show lo | grep -q UP
}

@test "loopback ADD sets lo up, result has lo and its addresses, in every version" {
	ip -n "cnic-$TID" link set lo down
	for v in 0.1.0 0.2.0 0.3.0 0.3.1 0.4.0 1.0.0 1.1.0; do
		run cni loopback ADD "$NS" eth0 "{\"cniVersion\":\"$v\",\"name\":\"lonet\",\"type\":\"loopback\"}"
		[ "$status" -eq 0 ]
		[ "$(json_get "$output" .cniVersion)" = "$v" ]
		case $v in
		0.1.0|0.2.0) [ "$(json_get "$output" .ip4.ip)" = 127.0.0.1/8 ]
			     [ "$(json_get "$output" .interfaces)" = null ] ;;
		0.3.*|0.4.0) [ "$(json_get "$output" '.ips[0].version')" = 4 ]
			     [ "$(json_get "$output" '.interfaces[0].name')" = lo ] ;;
		*) [ "$(json_get "$output" '.ips[0].version')" = null ]
		   [ "$(json_get "$output" '.ips[0].address')" = 127.0.0.1/8 ]
		   [ "$(json_get "$output" '.interfaces[0].sandbox')" = "$NS" ] ;;
		esac
	done
	ip -n "cnic-$TID" link show lo | grep -q '<LOOPBACK,UP'
}

@test "loopback passes prevResult through unchanged" {
	conf='{"cniVersion":"1.0.0","name":"n","type":"loopback","prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/x"}],"ips":[{"interface":0,"address":"10.9.0.5/24","gateway":"10.9.0.1"}],"routes":[{"dst":"0.0.0.0/0","gw":"10.9.0.1"}]}}'
	run cni loopback ADD "$NS" eth0 "$conf"
	[ "$status" -eq 0 ]
	[ "$(json_get "$output" '.ips[0].address')" = 10.9.0.5/24 ]
	[ "$(json_get "$output" '.routes[0].gw')" = 10.9.0.1 ]
	[ "$(json_get "$output" '.interfaces[0].name')" = eth0 ]
}

@test "loopback refuses a lo with a non-loopback address" {
	ip -n "cnic-$TID" addr add 10.250.0.1/32 dev lo
	run cni loopback ADD "$NS" eth0 "$CONF"
	[ "$status" -eq 1 ]
	[[ "$(json_get "$output" .msg)" == *"non-loopback address"*10.250.0.1* ]]
}

@test "loopback DEL sets lo down, CHECK then fails; DEL of a gone netns succeeds" {
	run cni loopback ADD "$NS" eth0 "$CONF"; [ "$status" -eq 0 ]
	run cni loopback CHECK "$NS" eth0 "$CONF"; [ "$status" -eq 0 ]
	run cni loopback DEL "$NS" eth0 "$CONF"; [ "$status" -eq 0 ]
	! ip -n "cnic-$TID" link show lo | grep -q '<LOOPBACK,UP' || false
	run cni loopback CHECK "$NS" eth0 "$CONF"
	[ "$status" -eq 1 ]; [[ "$(json_get "$output" .msg)" == *"loopback interface is down"* ]]
	run cni loopback DEL "$NS" eth0 "$CONF"; [ "$status" -eq 0 ]
	run cni loopback DEL /run/netns/does-not-exist-$TID eth0 "$CONF"; [ "$status" -eq 0 ]
	run cni loopback DEL "" eth0 "$CONF"; [ "$status" -eq 0 ]
}

# ---- the framework rules hold for every plugin binary of the suite ----

plugins() { for p in "$BIN"/*; do n=${p##*/}; [ "$n" = cnitool ] || echo "$n"; done; }

@test "every plugin: VERSION, about text, and code 6/7/1 for bad input" {
	[ -n "$(plugins)" ]
	for p in $(plugins); do
		run bash -c "echo '{\"cniVersion\":\"1.0.0\"}' | CNI_COMMAND=VERSION $BIN/$p"
		[ "$status" -eq 0 ] || { echo "$p VERSION: $output"; false; }
		[ "$(json_get "$output" .cniVersion)" = 1.0.0 ]
		[[ "$(json_get "$output" '.supportedVersions|join(",")')" == *1.1.0* ]] || { echo "$p"; false; }
		run bash -c "env -u CNI_COMMAND $BIN/$p 2>&1 </dev/null"
		[ "$status" -eq 0 ]; [[ "$output" == "CNI $p plugin"* ]] || { echo "$p about: $output"; false; }
		run cni "$p" ADD "$NS" eth0 '{"cniVersion":"1.0.0",'
		[ "$(json_get "$output" .code)" = 6 ] || { echo "$p json: $output"; false; }
		run cni "$p" ADD "$NS" eth0 '{"cniVersion":"1.0.0","type":"x"}'
		[ "$(json_get "$output" .code)" = 7 ] || { echo "$p name: $output"; false; }
		run cni "$p" ADD "$NS" eth0 '{"cniVersion":"9.9.9","name":"x"}'
		[ "$(json_get "$output" .code)" = 1 ] || { echo "$p version: $output"; false; }
		run cni "$p" CHECK "$NS" eth0 '{"cniVersion":"0.3.1","name":"x"}'
		[ "$(json_get "$output" .code)" = 1 ] || { echo "$p check<0.4: $output"; false; }
		run cni "$p" ADD "$NS" 'a b' '{"cniVersion":"1.0.0","name":"x"}'
		[ "$(json_get "$output" .code)" = 4 ] || { echo "$p ifname: $output"; false; }
		for c in STATUS GC; do
			run bash -c "echo '{\"cniVersion\":\"1.0.0\",\"name\":\"x\"}' | CNI_COMMAND=$c CNI_PATH=$BIN $BIN/$p"
			[ "$(json_get "$output" .code)" = 1 ] || { echo "$p $c<1.1: $output"; false; }
		done
	done
}

@test "plugins that read CNI_ARGS refuse unknown keys unless IgnoreUnknown" {
	for p in bridge host-local static macvlan tap; do
		[ -x "$BIN/$p" ] || continue
		CNI_ARGS="FOO=1" run cni "$p" ADD "$NS" eth0 '{"cniVersion":"1.0.0","name":"x","ipam":{}}'
		[ "$status" -eq 1 ]
		[ "$(json_get "$output" .code)" = 4 ] || { echo "$p: $output"; false; }
		[[ "$(json_get "$output" .msg)" == *FOO* ]]
	done
	# with IgnoreUnknown the unknown key passes the frame (loopback reads no args)
	CNI_ARGS="IgnoreUnknown=1;FOO=1" run cni loopback ADD "$NS" eth0 "$CONF"
	[ "$status" -eq 0 ]
	CNI_ARGS="FOO" run cni host-local ADD "$NS" eth0 '{"cniVersion":"1.0.0","name":"x","ipam":{}}'
	[ "$(json_get "$output" .code)" = 4 ]
	[[ "$(json_get "$output" .msg)" == *"invalid pair"* ]]
}
