#!/bin/bash
# ipvlan plugin in the netlab guest (the host kernel has no ipvlan).
. ./lib.sh
DATA=/tmp/ipam
HL='"type":"host-local","dataDir":"'$DATA'"'
ip link add par type veth peer name parpeer
ip link set par up; ip link set parpeer up
for n in a b c; do ns_new $n; done
RESET=reset
reset() { for n in a b c; do ip -n $n link del eth0; done; rm -rf $DATA; }

conf() { # MODE SUBNET [extra]
	printf '{"cniVersion":"1.0.0","name":"ipv%s","type":"ipvlan","master":"par","mode":"%s","ipam":{%s,"subnet":"%s"},"dns":{"nameservers":["192.0.2.53"]}%s}' \
		"$1" "$1" "$HL" "$2" "${3:+,$3}"
}

two_ping() { # MODE SUBNET-PREFIX [extra]
	local C; C=$(conf $1 $2.0/24 "${3:-}")
	R=$(cni ipvlan ADD /run/netns/a eth0 "$C" a)
	cni ipvlan ADD /run/netns/b eth0 "$C" b > /dev/null
	[ "$(jget "$R" '.interfaces[0].sandbox')" = /run/netns/a ]
	[ "$(jget "$R" '.ips[0].interface')" = 0 ]
	[ "$(jget "$R" '.dns.nameservers[0]')" = 192.0.2.53 ]
	# ipvlan children share the master's MAC
	[ "$(jget "$R" '.interfaces[0].mac')" = "$(ip -j link show par | jq -r '.[0].address')" ]
	ip -d -n a link show eth0 | grep -q "ipvlan  mode $1 "
	ip netns exec a ping -c1 -W2 $2.3
}
del_ab() {
	cni ipvlan DEL /run/netns/a eth0 "$1" a
	cni ipvlan DEL /run/netns/b eth0 "$1" b
	[ "$(ip_files $DATA/ipv$2)" = 0 ]
}

s_l2() { two_ping l2 10.10.2; del_ab "$(conf l2 10.10.2.0/24)" l2; }
s_l3() { two_ping l3 10.10.3; ip -n a route | grep -q '10.10.3.0/24 dev eth0'; del_ab "$(conf l3 10.10.3.0/24)" l3; }
s_l3s() {
	C=$(conf l3s 10.10.4.0/24)
	cni ipvlan ADD /run/netns/a eth0 "$C" a > /dev/null
	ip -d -n a link show eth0 | grep -q 'ipvlan  mode l3s '
	cni ipvlan DEL /run/netns/a eth0 "$C" a
}
s_private() {
	C=$(conf l2 10.10.5.0/24 '"flag":"private"')
	cni ipvlan ADD /run/netns/a eth0 "$C" a > /dev/null
	cni ipvlan ADD /run/netns/b eth0 "$C" b > /dev/null
	ip -d -n a link show eth0 | grep -q 'ipvlan  mode l2 private'
	! ip netns exec a ping -c1 -W1 10.10.5.3 || false
	cni ipvlan DEL /run/netns/a eth0 "$C" a
	cni ipvlan DEL /run/netns/b eth0 "$C" b
	expect_fail cni ipvlan ADD /run/netns/a eth0 "$(conf l2 10.10.5.0/24 '"flag":"nosuch"')" a
	[[ "$(jget "$OUT" .msg)" == *'unknown ipvlan flag: "nosuch"'* ]]
}
s_bad_mode() {
	expect_fail cni ipvlan ADD /run/netns/a eth0 "$(conf l9 10.10.6.0/24)" a
	[ "$(jget "$OUT" .msg)" = 'unknown ipvlan mode: "l9"' ]
	expect_fail cni ipvlan ADD /run/netns/a eth0 '{"cniVersion":"1.0.0","name":"x","type":"ipvlan","master":"par"}' a
	[[ "$(jget "$OUT" .msg)" == *'needs "ipam"'* ]]
	[ "$(ip -n a -o link | grep -vc ': lo:')" = 0 ]
}
s_chained() {
	# no master, no ipam: master = the single interface of prevResult, its IPs applied
	P='{"cniVersion":"1.0.0","interfaces":[{"name":"par"}],"ips":[{"address":"10.10.7.9/24","gateway":"10.10.7.1","interface":0}],"routes":[{"dst":"0.0.0.0/0"}]}'
	C='{"cniVersion":"1.0.0","name":"ch","type":"ipvlan","prevResult":'$P'}'
	R=$(cni ipvlan ADD /run/netns/c eth0 "$C" c)
	[ "$(jget "$R" '.interfaces|length')" = 1 ]
	[ "$(jget "$R" '.ips[0].address')" = 10.10.7.9/24 ]
	ip -n c -4 addr show eth0 | grep -q 10.10.7.9/24
	ip -n c route | grep -q 'default via 10.10.7.1 dev eth0'
	cni ipvlan DEL /run/netns/c eth0 "$C" c
	P2='{"cniVersion":"1.0.0","interfaces":[{"name":"par"},{"name":"x"}],"ips":[{"address":"10.10.7.9/24"}]}'
	expect_fail cni ipvlan ADD /run/netns/c eth0 '{"cniVersion":"1.0.0","name":"ch","type":"ipvlan","prevResult":'$P2'}' c
	[[ "$(jget "$OUT" .msg)" == *"PrevResult lacks a single named interface"* ]]
}
s_check() {
	C=$(conf l2 10.10.8.0/24)
	R=$(cni ipvlan ADD /run/netns/a eth0 "$C" a)
	CC=$(printf '%s' "$C" | jq -c --argjson p "$R" '.prevResult=$p')
	cni ipvlan CHECK /run/netns/a eth0 "$CC" a
	ip -n a link set eth0 type ipvlan mode l3
	expect_fail cni ipvlan CHECK /run/netns/a eth0 "$CC" a
	[[ "$(jget "$OUT" .msg)" == *"mode l3 does not match expected value: l2"* ]]
	ip -n a link set eth0 type ipvlan mode l2
	cni ipvlan CHECK /run/netns/a eth0 "$CC" a
	ip -n a addr flush dev eth0
	expect_fail cni ipvlan CHECK /run/netns/a eth0 "$CC" a
	[ "$(jget "$OUT" .code)" = 107 ]
	cni ipvlan DEL /run/netns/a eth0 "$C" a
}
s_del() {
	C=$(conf l2 10.10.9.0/24)
	cni ipvlan ADD /run/netns/a eth0 "$C" a > /dev/null
	cni ipvlan DEL /run/netns/a eth0 "$C" a
	cni ipvlan DEL /run/netns/a eth0 "$C" a
	# DEL needs no master and no default route
	C2='{"cniVersion":"1.0.0","name":"ipvl2","type":"ipvlan","ipam":{'$HL',"subnet":"10.10.9.0/24"}}'
	ip link add par2 type veth peer name par2p
	cni ipvlan ADD /run/netns/a eth0 "$(conf l2 10.10.9.0/24 | sed 's/"master":"par"/"master":"par2"/')" a > /dev/null
	ip link del par2
	ip route show default | grep -q . && return 1
	cni ipvlan DEL /run/netns/a eth0 "$C2" a
	[ "$(ip_files $DATA/ipvl2)" = 0 ]
	# netns gone
	cni ipvlan ADD /run/netns/b eth0 "$C" b > /dev/null
	ip netns del b
	cni ipvlan DEL /run/netns/b eth0 "$C" b
	[ "$(ip_files $DATA/ipvl2)" = 0 ]
	ns_new b
}
s_fail() {
	C=$(conf l2 10.10.10.0/24 | jq -c '.ipam.routes=[{"dst":"203.0.113.0/24","gw":"198.51.100.1"}]')
	expect_fail cni ipvlan ADD /run/netns/a eth0 "$C" a
	[[ "$(jget "$OUT" .msg)" == *"failed to add route"* ]]
	[ "$(ip -n a -o link | grep -vc ': lo:')" = 0 ]
	[ "$(ip_files $DATA/ipvl2)" = 0 ]
}

echo "# kernel $(uname -r)"
scenario "ipvlan l2: two containers ping each other, share the master MAC" s_l2
scenario "ipvlan l3: two containers ping each other" s_l3
scenario "ipvlan l3s: link created in mode l3s" s_l3s
scenario "ipvlan flag private: siblings cannot talk; unknown flag rejected" s_private
scenario "ipvlan: unknown mode and missing ipam rejected, nothing created" s_bad_mode
scenario "ipvlan chained: master and IPs from prevResult" s_chained
scenario "ipvlan CHECK: passes, detects changed mode and lost address" s_check
scenario "ipvlan DEL: twice, without master or default route, with netns gone" s_del
scenario "ipvlan forced failure: no link, no address leaked" s_fail
finish
