#!/usr/bin/env bats
# static IPAM (reference notes 2.7 and 3.3 item 35): addresses, routes, dns,
# precedence runtimeConfig > args > CNI_ARGS, CIDR validation, CHECK.
load helpers

REF=/usr/lib/cni/static

setup() {
	setup_common
	netns_new "cnic-$TID"
	NS=/run/netns/cnic-$TID
}
teardown() { teardown_common; }

# conf IPAM_BODY [VERSION] [EXTRA_TOP_LEVEL]
conf() {
	printf '{"cniVersion":"%s","name":"st-%s","type":"bridge"%s,"ipam":{"type":"static"%s}}' \
		"${2:-1.0.0}" "$TID" "${3:-}" "${1:+,$1}"
}
st() { cni static "$1" "$NS" eth0 "$2"; }

ADDRS='"addresses":[{"address":"10.10.0.5/24","gateway":"10.10.0.1"},{"address":"3ffe:ffff:0:1::5/64","gateway":"3ffe:ffff:0:1::1"}]'
ROUTES='"routes":[{"dst":"0.0.0.0/0"},{"dst":"192.168.0.0/16","gw":"10.10.0.1"},{"dst":"192.168.0.0/16","gw":"10.10.0.2"},{"dst":"3ffe:ffff:0:1::/64","gw":"3ffe:ffff:0:1::1","priority":10}]'
DNS='"dns":{"nameservers":["8.8.8.8"],"domain":"example.com","search":["example.com"],"options":["ndots:3"]}'

@test "static: addresses, ECMP routes and dns in the result" {
	run st ADD "$(conf "$ADDRS,$ROUTES,$DNS")"
	[ "$status" -eq 0 ]
	[ "$(json_get "$output" '[.ips[].address]|join(",")')" = "10.10.0.5/24,3ffe:ffff:0:1::5/64" ]
	[ "$(json_get "$output" '[.ips[].gateway]|join(",")')" = "10.10.0.1,3ffe:ffff:0:1::1" ]
	[ "$(json_get "$output" '.ips[0].interface')" = null ]
	[ "$(json_get "$output" '.interfaces')" = null ]
	[ "$(json_get "$output" '.routes|length')" = 4 ]
	[ "$(json_get "$output" '[.routes[]|select(.dst=="192.168.0.0/16")|.gw]|join(",")')" = "10.10.0.1,10.10.0.2" ]
	[ "$(json_get "$output" '.routes[3].priority')" = 10 ]
	[ "$(json_get "$output" '.dns.nameservers[0]')" = 8.8.8.8 ]
	[ "$(json_get "$output" '.dns.domain')" = example.com ]
	[ "$(json_get "$output" '.dns.options[0]')" = ndots:3 ]
}

@test "static: every result version; more than one address per family refused before 0.3.0" {
	run st ADD "$(conf '"addresses":[{"address":"10.10.0.5/24","gateway":"10.10.0.1"}]' 0.2.0)"
	[ "$status" -eq 0 ]
	[ "$(json_get "$output" '.ip4.ip')" = 10.10.0.5/24 ]
	[ "$(json_get "$output" '.ip4.gateway')" = 10.10.0.1 ]
	run st ADD "$(conf "$ADDRS" 0.4.0)"
	[ "$(json_get "$output" '[.ips[].version]|join(",")')" = 4,6 ]
	run st ADD "$(conf "$ADDRS" 1.1.0)"
	[ "$(json_get "$output" '.ips[0].version')" = null ]
	run st ADD "$(conf '"addresses":[{"address":"10.10.0.5/24"},{"address":"10.10.1.5/24"}]' 0.2.0)"
	[ "$status" -eq 1 ]
	[[ "$(json_get "$output" .msg)" == *"CNI version 0.2.0 does not support more than 1 address per family"* ]]
}

@test "static: CNI_ARGS IP and GATEWAY are appended; args.cni.ips replaces; runtimeConfig.ips wins" {
	CNI_ARGS="IP=10.20.0.7/16,10.30.0.7/16;GATEWAY=10.20.0.1" run st ADD "$(conf "$ADDRS")"
	[ "$status" -eq 0 ]
	[ "$(json_get "$output" '[.ips[].address]|join(",")')" = "10.10.0.5/24,3ffe:ffff:0:1::5/64,10.20.0.7/16,10.30.0.7/16" ]
	[ "$(json_get "$output" '.ips[2].gateway')" = 10.20.0.1 ]
	[ "$(json_get "$output" '.ips[3].gateway')" = null ]
	CNI_ARGS="IP=10.20.0.7/16" run st ADD "$(conf "$ADDRS" 1.0.0 ',"args":{"cni":{"ips":["10.40.0.4/24"]}}')"
	[ "$(json_get "$output" '[.ips[].address]|join(",")')" = "10.40.0.4/24" ]
	CNI_ARGS="IP=10.20.0.7/16" run st ADD "$(conf "$ADDRS" 1.0.0 ',"args":{"cni":{"ips":["10.40.0.4/24"]}},"runtimeConfig":{"ips":["10.50.0.5/24","2001:db8::5/64"]}')"
	[ "$(json_get "$output" '[.ips[].address]|join(",")')" = "10.50.0.5/24,2001:db8::5/64" ]
}

@test "static: CIDR validation errors" {
	run st ADD "$(conf '"addresses":[{"address":"10.10.0.5"}]')"
	[ "$status" -eq 1 ]
	[ "$(json_get "$output" .code)" = 7 ]
	[ "$(json_get "$output" .msg)" = "the 'address' field is expected to be in CIDR notation, got: '10.10.0.5'" ]
	CNI_ARGS="IP=10.20.0.7" run st ADD "$(conf)"
	[ "$(json_get "$output" .msg)" = "the 'ip' field is expected to be in CIDR notation, got: '10.20.0.7'" ]
	CNI_ARGS="IP=10.20.0.7/16;GATEWAY=bogus" run st ADD "$(conf)"
	[ "$(json_get "$output" .msg)" = "invalid gateway address: bogus" ]
	run st ADD "$(conf "" 1.0.0 ',"runtimeConfig":{"ips":["10.50.0.5"]}')"
	[ "$(json_get "$output" .msg)" = "an entry in the 'ips' field is NOT in CIDR notation, got: '10.50.0.5'" ]
	run st ADD '{"cniVersion":"1.0.0","name":"x","type":"bridge"}'
	[ "$(json_get "$output" .msg)" = "IPAM config missing 'ipam' key" ]
	CNI_ARGS="MAC=00:11:22:33:44:55" run st ADD "$(conf "$ADDRS")"
	[ "$(json_get "$output" .code)" = 4 ]
	CNI_ARGS="IgnoreUnknown=1;MAC=00:11:22:33:44:55" run st ADD "$(conf "$ADDRS")"
	[ "$status" -eq 0 ]
}

@test "static: no addresses gives an empty result; DEL always succeeds" {
	run st ADD "$(conf)"
	[ "$status" -eq 0 ]
	[ "$(json_get "$output" '.ips')" = null ]
	run st DEL "$(conf "$ADDRS")"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run st DEL "$(conf "$ADDRS")"
	[ "$status" -eq 0 ]
}

@test "static: CHECK against prevResult" {
	local c res
	c=$(conf "$ADDRS")
	run st ADD "$c"
	res=$output
	run st CHECK "$(printf '%s' "$c" | jq -c --argjson p "$res" '.prevResult=$p')"
	[ "$status" -eq 0 ]
	run st CHECK "$c"
	[ "$status" -eq 1 ]
	[ "$(json_get "$output" .msg)" = "Required prevResult missing" ]
	run st CHECK "$(printf '%s' "$c" | jq -c --argjson p "$res" '.prevResult=$p | .prevResult.ips[0].gateway="10.10.0.9"')"
	[ "$status" -eq 1 ]
	[ "$(json_get "$output" .msg)" = "static: Failed to match addr 10.10.0.5 on interface eth0" ]
	run st CHECK "$(printf '%s' "$c" | jq -c --argjson p "$res" '.prevResult=$p | del(.prevResult.ips[1])')"
	[ "$status" -eq 1 ]
	[[ "$(json_get "$output" .msg)" == *"3ffe:ffff:0:1::5"* ]]
}

@test "static: same result as the reference plugin" {
	[ -x "$REF" ] || skip "reference static not installed at $REF"
	local c ours theirs
	# (route priority is newer than the installed reference: leave it out)
	c=$(conf "$ADDRS,${ROUTES/,\"priority\":10/},$DNS")
	ours=$(st ADD "$c" | jq -S .)
	theirs=$(printf '%s' "$c" | env CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS="$NS" CNI_IFNAME=eth0 \
		CNI_PATH=/usr/lib/cni "$REF" | jq -S .)
	[ "$ours" = "$theirs" ] || { diff <(echo "$ours") <(echo "$theirs"); return 1; }
}
