#!/usr/bin/env bats
# tuning (reference section 2.8) with real namespaces: the container
# interface is a veth whose both ends live in the test's netns. Backups go
# to a dataDir under $TMP; the allowlist is given through
# CNI_C_TUNING_ALLOWLIST so /etc/cni is never touched. The reference binary
# (/usr/lib/cni/tuning) is run on the same state where the on-disk backup
# format must be shared.
load helpers

REF=/usr/lib/cni/tuning

setup() {
	setup_common
	require_root
	NS=$(netns_new "nt-$TID" && echo "/run/netns/nt-$TID")
	ip -n "nt-$TID" link add eth0 type veth peer name peer0
	ip -n "nt-$TID" link set eth0 up
	ip -n "nt-$TID" link set peer0 up
	DD=$TMP/tuning
	PREV="{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"br0\",\"mac\":\"aa:bb:cc:dd:ee:ff\"},{\"name\":\"eth0\",\"mac\":\"$(mac eth0)\",\"sandbox\":\"$NS\"}],\"ips\":[{\"interface\":1,\"address\":\"10.9.8.7/24\"}]}"
}
teardown() { teardown_common; }

# conf VERSION EXTRA-JSON [PREV]: a tuning config with prevResult
conf() {
	printf '{"cniVersion":"%s","name":"tn%s","type":"tuning","dataDir":"%s"%s,"prevResult":%s}' \
		"$1" "$TID" "$DD" "${2:+,$2}" "${3:-$PREV}"
}
mac() { ip -n "nt-$TID" -j link show "$1" | jq -r '.[0].address'; }
attr() { ip -n "nt-$TID" -j -d link show "$1" | jq -r ".[0].$2"; }
flags() { ip -n "nt-$TID" -j link show "$1" | jq -r '.[0].flags | join(",")'; }
sysctl_in() { ip netns exec "nt-$TID" cat "/proc/sys/$1"; }

@test "tuning: ADD sets sysctls and link attributes, reports the MAC; CHECK passes; DEL restores them" {
	OMAC=$(mac eth0); OMTU=$(attr eth0 mtu); OQ=$(attr eth0 txqlen)
	[ "$(sysctl_in net/ipv4/conf/eth0/arp_filter)" = 0 ]
	C=$(conf 1.0.0 '"sysctl":{"net.ipv4.conf.IFNAME.arp_filter":"1","net/ipv4/conf/eth0/arp_ignore":"2","net.core.somaxconn":"1234"},"mac":"c2:00:00:00:00:0a","promisc":true,"mtu":1400,"allmulti":true,"txQLen":77')
	run cni tuning ADD "$NS" eth0 "$C"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	# prevResult through, with the new MAC on the container interface only
	[ "$(json_get "$output" '.interfaces[1].mac')" = c2:00:00:00:00:0a ]
	[ "$(json_get "$output" '.interfaces[0].mac')" = aa:bb:cc:dd:ee:ff ]
	[ "$(json_get "$output" '.ips[0].address')" = 10.9.8.7/24 ]
	[ "$(sysctl_in net/ipv4/conf/eth0/arp_filter)" = 1 ]
	[ "$(sysctl_in net/ipv4/conf/eth0/arp_ignore)" = 2 ]
	[ "$(sysctl_in net/core/somaxconn)" = 1234 ]
	[ "$(mac eth0)" = c2:00:00:00:00:0a ]
	[ "$(attr eth0 mtu)" = 1400 ]
	[ "$(attr eth0 txqlen)" = 77 ]
	flags eth0 | grep -q PROMISC
	flags eth0 | grep -q ALLMULTI
	# the backup holds the old values under the reference's field names
	B=$DD/ctr-${TID}_eth0.json
	[ "$(jq -r .mac "$B")" = "$OMAC" ]
	[ "$(jq -r .mtu "$B")" = "$OMTU" ]
	[ "$(jq -r .txQLen "$B")" = "$OQ" ]
	[ "$(jq -r .promisc "$B")" = false ]
	[ "$(jq -r .allmulti "$B")" = false ]
	run cni tuning CHECK "$NS" eth0 "$C"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	run cni tuning DEL "$NS" eth0 "$C"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(mac eth0)" = "$OMAC" ]
	[ "$(attr eth0 mtu)" = "$OMTU" ]
	[ "$(attr eth0 txqlen)" = "$OQ" ]
	! flags eth0 | grep -q PROMISC || false
	! flags eth0 | grep -q ALLMULTI || false
	[ ! -e "$B" ]
	# sysctls are not restored (as the reference: they go with the interface)
	[ "$(sysctl_in net/ipv4/conf/eth0/arp_filter)" = 1 ]
	run cni tuning DEL "$NS" eth0 "$C"
	[ "$status" -eq 0 ]
}

@test "tuning: CHECK finds each changed value, naming it" {
	C=$(conf 1.0.0 '"sysctl":{"net.ipv4.conf.eth0.arp_filter":"1"},"mac":"c2:00:00:00:00:0b","mtu":1400,"txQLen":50,"allmulti":true')
	run cni tuning ADD "$NS" eth0 "$C"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	ck() {
		run cni tuning CHECK "$NS" eth0 "$C"
		[ "$status" -ne 0 ] || { echo "CHECK passed after: $1"; false; }
		echo "$output" | jq -e '.code == 107' >/dev/null
		echo "$output" | jq -r .msg | grep -q -- "$2" || { echo "$output"; false; }
	}
	ip netns exec "nt-$TID" sh -c 'echo 0 > /proc/sys/net/ipv4/conf/eth0/arp_filter'
	ck sysctl "configured value of /proc/sys/net/ipv4/conf/eth0/arp_filter is 1, current value is 0"
	ip netns exec "nt-$TID" sh -c 'echo 1 > /proc/sys/net/ipv4/conf/eth0/arp_filter'
	ip -n "nt-$TID" link set eth0 address c2:00:00:00:00:0c
	ck mac "Ethernet of eth0 is c2:00:00:00:00:0b, current value is c2:00:00:00:00:0c"
	ip -n "nt-$TID" link set eth0 address c2:00:00:00:00:0b
	ip -n "nt-$TID" link set eth0 mtu 1300
	ck mtu "MTU of eth0 is 1400, current value is 1300"
	ip -n "nt-$TID" link set eth0 mtu 1400
	ip -n "nt-$TID" link set eth0 promisc on
	ck promisc "configured promisc is false, current value is 1"
	ip -n "nt-$TID" link set eth0 promisc off
	ip -n "nt-$TID" link set eth0 allmulticast off
	ck allmulti "all-multicast mode of eth0 is true, current value is false"
	ip -n "nt-$TID" link set eth0 allmulticast on
	ip -n "nt-$TID" link set eth0 txqueuelen 60
	ck txqlen "Transmit Queue Length of eth0 is 50, current value is 60"
	ip -n "nt-$TID" link set eth0 txqueuelen 50
	run cni tuning CHECK "$NS" eth0 "$C"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	ip -n "nt-$TID" link del eth0
	ck "link gone" "Cannot find container link eth0"
}

@test "tuning: backups are the reference's format both ways (ADD by one, DEL by the other)" {
	[ -x "$REF" ] || skip "reference tuning not installed (containernetworking-plugins)"
	OMAC=$(mac eth0); OMTU=$(attr eth0 mtu)
	C=$(conf 1.0.0 '"mac":"c2:00:00:00:00:0d","mtu":1300,"promisc":true')
	run sh -c "printf '%s' '$C' | CNI_COMMAND=ADD CNI_CONTAINERID=ctr-$TID CNI_NETNS=$NS CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni $REF"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(mac eth0)" = c2:00:00:00:00:0d ]
	run cni tuning DEL "$NS" eth0 "$C"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(mac eth0)" = "$OMAC" ]; [ "$(attr eth0 mtu)" = "$OMTU" ]
	! flags eth0 | grep -q PROMISC || false
	[ -z "$(ls "$DD")" ]
	run cni tuning ADD "$NS" eth0 "$C"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(mac eth0)" = c2:00:00:00:00:0d ]; [ "$(attr eth0 mtu)" = 1300 ]
	run sh -c "printf '%s' '$C' | CNI_COMMAND=DEL CNI_CONTAINERID=ctr-$TID CNI_NETNS=$NS CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni $REF"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(mac eth0)" = "$OMAC" ]; [ "$(attr eth0 mtu)" = "$OMTU" ]
	! flags eth0 | grep -q PROMISC || false
	[ -z "$(ls "$DD")" ]
}

@test "tuning: every result version passes prevResult through (0.1.0 ... 1.1.0)" {
	for v in 0.1.0 0.2.0 0.3.0 0.3.1 0.4.0 1.0.0 1.1.0; do
		case $v in
		0.1.0 | 0.2.0) P='{"cniVersion":"'$v'","ip4":{"ip":"10.9.8.7/24"}}' ;;
		*) P=$(printf '%s' "$PREV" | jq -c --arg v "$v" '.cniVersion = $v') ;;
		esac
		run cni tuning ADD "$NS" eth0 "$(conf "$v" '"sysctl":{"net.ipv4.conf.eth0.arp_filter":"1"}' "$P")"
		[ "$status" -eq 0 ] || { echo "$v: $output"; false; }
		[ "$(json_get "$output" .cniVersion)" = "$v" ]
		case $v in
		0.1.0 | 0.2.0) [ "$(json_get "$output" .ip4.ip)" = 10.9.8.7/24 ] ;;
		*) [ "$(json_get "$output" '.ips[0].address')" = 10.9.8.7/24 ] ;;
		esac
	done
}

@test "tuning: MAC precedence args.cni > runtimeConfig > CNI_ARGS > mac" {
	M='"mac":"c2:00:00:00:00:01"'
	R='"runtimeConfig":{"mac":"c2:00:00:00:00:02"}'
	A='"args":{"cni":{"mac":"c2:00:00:00:00:03"}}'
	export CNI_ARGS="IgnoreUnknown=1;MAC=c2:00:00:00:00:04"
	run cni tuning ADD "$NS" eth0 "$(conf 1.0.0 "$M,$R,$A")"
	[ "$status" -eq 0 ]; [ "$(mac eth0)" = c2:00:00:00:00:03 ]
	run cni tuning ADD "$NS" eth0 "$(conf 1.0.0 "$M,$R")"
	[ "$status" -eq 0 ]; [ "$(mac eth0)" = c2:00:00:00:00:02 ]
	run cni tuning ADD "$NS" eth0 "$(conf 1.0.0 "$M")"
	[ "$status" -eq 0 ]; [ "$(mac eth0)" = c2:00:00:00:00:04 ]
	unset CNI_ARGS
	run cni tuning ADD "$NS" eth0 "$(conf 1.0.0 "$M")"
	[ "$status" -eq 0 ]; [ "$(mac eth0)" = c2:00:00:00:00:01 ]
	# args.cni.sysctl overrides the config's value of the same key
	run cni tuning ADD "$NS" eth0 "$(conf 1.0.0 '"sysctl":{"net.ipv4.conf.eth0.arp_ignore":"1"},"args":{"cni":{"sysctl":{"net.ipv4.conf.eth0.arp_ignore":"2"},"mtu":1280}}')"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(sysctl_in net/ipv4/conf/eth0/arp_ignore)" = 2 ]
	[ "$(attr eth0 mtu)" = 1280 ]
}

@test "tuning: interface names with a dot in both key forms; IFNAME" {
	ip -n "nt-$TID" link add e.5 type veth peer name peer5
	run cni tuning ADD "$NS" e.5 "$(conf 1.0.0 '"sysctl":{"net.ipv4.conf.e/5.arp_filter":"1","net/ipv4/conf/e.5/arp_ignore":"2","net.ipv4.conf.IFNAME.arp_announce":"1"}')"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(sysctl_in net/ipv4/conf/e.5/arp_filter)" = 1 ]
	[ "$(sysctl_in net/ipv4/conf/e.5/arp_ignore)" = 2 ]
	[ "$(sysctl_in net/ipv4/conf/e.5/arp_announce)" = 1 ]
}

@test "tuning: bad input is refused with the key named, and a failed ADD puts back what it changed" {
	err() { # expected-code message-fragment conf
		run cni tuning ADD "$NS" eth0 "$3"
		[ "$status" -ne 0 ] || { echo "accepted: $3"; false; }
		echo "$output" | jq -e --argjson c "$1" '.code == $c' >/dev/null || { echo "$output"; false; }
		echo "$output" | jq -r .msg | grep -qF -- "$2" || { echo "$output"; false; }
	}
	err 7 "Required prevResult missing" \
		"{\"cniVersion\":\"1.0.0\",\"name\":\"tn$TID\",\"type\":\"tuning\",\"sysctl\":{\"net.ipv4.conf.eth0.arp_filter\":\"1\"}}"
	err 7 'invalid net sysctl key: "kernel/hostname"' "$(conf 1.0.0 '"sysctl":{"kernel.hostname":"x"}')"
	err 7 'invalid net sysctl key: "net/../kernel/hostname"' "$(conf 1.0.0 '"sysctl":{"net/../kernel/hostname":"x"}')"
	err 7 'invalid net sysctl key: "net"' "$(conf 1.0.0 '"sysctl":{"net":"x"}')"
	err 7 "duplicated sysctl keys are not allowed" \
		"$(conf 1.0.0 '"sysctl":{"net.ipv4.conf.eth0.arp_filter":"1","net.ipv4.conf.eth0.arp_filter":"0"}')"
	err 7 'the value of "net.ipv4.conf.eth0.arp_filter" must be a string' "$(conf 1.0.0 '"sysctl":{"net.ipv4.conf.eth0.arp_filter":1}')"
	err 7 "invalid args zz:zz for MAC addr" "$(conf 1.0.0 '"mac":"zz:zz"')"
	# a sysctl that does not exist: the ones before it are put back
	err 7 '"net.ipv4.conf.eth0.no_such_thing": /proc/sys/net/ipv4/conf/eth0/no_such_thing does not exist' \
		"$(conf 1.0.0 '"sysctl":{"net.ipv4.conf.eth0.arp_filter":"1","net.ipv4.conf.eth0.no_such_thing":"1"}')"
	[ "$(sysctl_in net/ipv4/conf/eth0/arp_filter)" = 0 ]
	err 7 'the kernel refused "abc"' "$(conf 1.0.0 '"sysctl":{"net.ipv4.conf.eth0.arp_filter":"1","net.ipv4.conf.eth0.arp_ignore":"abc"}')"
	[ "$(sysctl_in net/ipv4/conf/eth0/arp_filter)" = 0 ]
	# a link change the kernel refuses (MTU below the veth minimum): the
	# sysctl, the MAC already set and the backup are all undone
	OMAC=$(mac eth0); OMTU=$(attr eth0 mtu)
	run cni tuning ADD "$NS" eth0 "$(conf 1.0.0 '"sysctl":{"net.ipv4.conf.eth0.arp_filter":"1"},"mac":"c2:00:00:00:00:0e","mtu":20')"
	[ "$status" -ne 0 ]
	echo "$output" | jq -r .msg | grep -q "MTU 20"
	[ "$(sysctl_in net/ipv4/conf/eth0/arp_filter)" = 0 ]
	[ "$(mac eth0)" = "$OMAC" ]; [ "$(attr eth0 mtu)" = "$OMTU" ]
	[ -z "$(ls "$DD" 2>/dev/null)" ]
}

@test "tuning: the sysctl allowlist (RE2 patterns) admits or refuses each key" {
	export CNI_C_TUNING_ALLOWLIST=$TMP/allowlist.conf
	printf '%s\n' '^net\.ipv4\.conf\.IFNAME\.[a-z_]+$' '' '^net\.core\.somaxconn$' > "$CNI_C_TUNING_ALLOWLIST"
	run cni tuning ADD "$NS" eth0 "$(conf 1.0.0 '"sysctl":{"net.ipv4.conf.IFNAME.arp_filter":"1","net.core.somaxconn":"999"}')"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(sysctl_in net/ipv4/conf/eth0/arp_filter)" = 1 ]
	run cni tuning ADD "$NS" eth0 "$(conf 1.0.0 '"sysctl":{"net.ipv4.conf.eth0.arp_ignore":"1"}')"
	[ "$status" -ne 0 ]
	echo "$output" | jq -r .msg | grep -qF 'Sysctl net.ipv4.conf.eth0.arp_ignore is not allowed. Only the following sysctls are allowed: [^net\.ipv4\.conf\.IFNAME\.[a-z_]+$ ^net\.core\.somaxconn$]'
	[ "$(sysctl_in net/ipv4/conf/eth0/arp_ignore)" = 0 ]
	printf '%s\n' '(unclosed' > "$CNI_C_TUNING_ALLOWLIST"
	run cni tuning ADD "$NS" eth0 "$(conf 1.0.0 '"sysctl":{"net.core.somaxconn":"999"}')"
	[ "$status" -ne 0 ]
	echo "$output" | jq -r .msg | grep -q 'bad pattern "(unclosed"'
}

@test "tuning: DEL with the netns or the interface gone removes the backup; GC removes this network's stale backups only" {
	C=$(conf 1.0.0 '"mtu":1400')
	run cni tuning ADD "$NS" eth0 "$C" a-$TID
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	ip -n "nt-$TID" link add eth1 type veth peer name peer1
	run cni tuning ADD "$NS" eth1 "$C" b-$TID
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	ip -n "nt-$TID" link add eth2 type veth peer name peer2
	run cni tuning ADD "$NS" eth2 "$C" c-$TID
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	# another network's backup and one the reference wrote (no owner in it)
	OTHER=$(printf '%s' "$C" | jq -c '.name = "other"')
	ip -n "nt-$TID" link add eth3 type veth peer name peer3
	run cni tuning ADD "$NS" eth3 "$OTHER" d-$TID
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	echo '{"mtu":1500}' > "$DD/e-${TID}_eth0.json"
	[ "$(ls "$DD" | wc -l)" = 5 ]
	# the interface is gone: DEL has nothing to restore, the backup goes
	ip -n "nt-$TID" link del eth1
	run cni tuning DEL "$NS" eth1 "$C" b-$TID
	[ "$status" -eq 0 ]
	[ ! -e "$DD/b-${TID}_eth1.json" ]
	# GC keeps a-, drops c- (stale), leaves d- (other network) and e- (reference)
	G=$(printf '%s' "$C" | jq -c --arg a "a-$TID" '. + {cniVersion: "1.1.0", "cni.dev/valid-attachments": [{containerID: $a, ifname: "eth0"}]} | del(.prevResult)')
	run cni tuning GC "" "" "$G" ""
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ -e "$DD/a-${TID}_eth0.json" ]; [ ! -e "$DD/c-${TID}_eth2.json" ]
	[ -e "$DD/d-${TID}_eth3.json" ]; [ -e "$DD/e-${TID}_eth0.json" ]
	# the netns is gone: DEL succeeds and removes the backup
	ip netns del "nt-$TID"
	run cni tuning DEL "$NS" eth0 "$C" a-$TID
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ ! -e "$DD/a-${TID}_eth0.json" ]
	run cni tuning STATUS "" "" "$(printf '%s' "$C" | jq -c '.cniVersion = "1.1.0" | del(.prevResult)')" ""
	[ "$status" -eq 0 ]
}
