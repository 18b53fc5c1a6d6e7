#!/bin/bash
# vlan and dummy plugins in the netlab guest (the host kernel has neither
# 8021q nor dummy).
. ./lib.sh
DATA=/tmp/ipam
HL='"type":"host-local","dataDir":"'$DATA'"'
# a trunk: veth pair, one end here (master), the other in namespace sw
ns_new sw
ip link add trunk type veth peer name trunkp netns sw
ip link set trunk up; ip -n sw link set trunkp up
ip -n sw link add link trunkp name trunkp.100 type vlan id 100
ip -n sw addr add 10.20.100.1/24 dev trunkp.100; ip -n sw link set trunkp.100 up
ip -n sw link add link trunkp name trunkp.200 type vlan id 200
ip -n sw addr add 10.20.200.1/24 dev trunkp.200; ip -n sw link set trunkp.200 up
for n in a b; do ns_new $n; done
RESET=reset
reset() { for n in a b; do ip -n $n link del eth0; done; rm -rf $DATA; }

vconf() { # ID SUBNET [extra]
	printf '{"cniVersion":"1.0.0","name":"vl%s","type":"vlan","master":"trunk","vlanId":%s,"ipam":{%s,"subnet":"%s","rangeStart":"%s"},"dns":{"nameservers":["192.0.2.53"]}%s}' \
		"$1" "$1" "$HL" "$2" "${2%.0/24}.10" "${3:+,$3}"
}

s_vlan_traffic() {
	C=$(vconf 100 10.20.100.0/24)
	R=$(cni vlan ADD /run/netns/a eth0 "$C" a)
	[ "$(jget "$R" '.ips[0].address')" = 10.20.100.10/24 ]
	[ "$(jget "$R" '.dns.nameservers[0]')" = 192.0.2.53 ]
	ip -d -n a link show eth0 | grep -q 'vlan protocol 802.1Q id 100 '
	ip netns exec a ping -c1 -W2 10.20.100.1
	# a container on vlan 200 reaches only vlan 200's side
	C2=$(vconf 200 10.20.200.0/24)
	cni vlan ADD /run/netns/b eth0 "$C2" b > /dev/null
	ip netns exec b ping -c1 -W2 10.20.200.1
	! ip netns exec b ping -c1 -W1 10.20.100.1 || false
	cni vlan DEL /run/netns/a eth0 "$C" a
	cni vlan DEL /run/netns/b eth0 "$C2" b
	[ "$(ip_files $DATA/vl100)" = 0 ]
}
s_vlan_conf() {
	expect_fail cni vlan ADD /run/netns/a eth0 '{"cniVersion":"1.0.0","name":"x","type":"vlan","vlanId":5,"ipam":{'"$HL"',"subnet":"10.20.5.0/24"}}' a
	[[ "$(jget "$OUT" .msg)" == *'"master" field is required'* ]]
	expect_fail cni vlan ADD /run/netns/a eth0 "$(vconf 4095 10.20.5.0/24)" a
	[[ "$(jget "$OUT" .msg)" == *"invalid VLAN ID 4095"* ]]
	ip link set trunk mtu 1400
	expect_fail cni vlan ADD /run/netns/a eth0 "$(vconf 5 10.20.5.0/24 '"mtu":1401')" a
	ip link set trunk mtu 1500
	[ "$(jget "$OUT" .msg)" = "invalid MTU 1401, must be [0, master MTU(1400)]" ]
	R=$(cni vlan ADD /run/netns/a eth0 "$(vconf 5 10.20.5.0/24 '"mtu":1300')" a)
	[ "$(ip -n a -j link show eth0 | jq -r '.[0].mtu')" = 1300 ]
	cni vlan DEL /run/netns/a eth0 "$(vconf 5 10.20.5.0/24)" a
	[ "$(ip -n a -o link | grep -vc ': lo:')" = 0 ]
}
s_vlan_in_container() {
	ip -n a link add ctrunk type veth peer name ctp
	ip -n a link set ctrunk up
	C='{"cniVersion":"1.0.0","name":"vlc","type":"vlan","master":"ctrunk","linkInContainer":true,"vlanId":7,"ipam":{'"$HL"',"subnet":"10.20.7.0/24"}}'
	cni vlan ADD /run/netns/a eth0 "$C" a > /dev/null
	ip -d -n a link show eth0 | grep -q 'eth0@ctrunk'
	cni vlan DEL /run/netns/a eth0 "$C" a
	ip -n a link del ctrunk
}
s_vlan_del() {
	ip link add tr2 type veth peer name tr2p; ip link set tr2 up
	C=$(vconf 300 10.20.30.0/24 | sed 's/"master":"trunk"/"master":"tr2"/')
	C2=$(printf '%s' "$C" | jq -c '.vlanId=301')
	cni vlan ADD /run/netns/a eth0 "$C" a > /dev/null
	# one vlan id per master, across namespaces
	expect_fail cni vlan ADD /run/netns/b eth0 "$C" b
	[ "$(jget "$OUT" .code)" = 106 ]
	cni vlan ADD /run/netns/b eth0 "$C2" b > /dev/null
	cni vlan DEL /run/netns/a eth0 "$C" a
	cni vlan DEL /run/netns/a eth0 "$C" a
	ip link del tr2   # master gone (its vlans go with it)
	cni vlan DEL /run/netns/b eth0 "$C2" b
	[ "$(ip_files $DATA/vl300)" = 0 ]
}
s_vlan_check() {
	C=$(vconf 100 10.20.100.0/24)
	R=$(cni vlan ADD /run/netns/a eth0 "$C" a)
	CC=$(printf '%s' "$C" | jq -c --argjson p "$R" '.prevResult=$p')
	cni vlan CHECK /run/netns/a eth0 "$CC" a
	expect_fail cni vlan CHECK /run/netns/a eth0 "$(printf '%s' "$CC" | jq -c '.vlanId=101')" a
	[[ "$(jget "$OUT" .msg)" == *"vlan id 100 does not match expected value: 101"* ]]
	ip -n a addr flush dev eth0
	expect_fail cni vlan CHECK /run/netns/a eth0 "$CC" a
	[ "$(jget "$OUT" .code)" = 107 ]
	cni vlan DEL /run/netns/a eth0 "$C" a
}
s_vlan_fail() {
	C=$(vconf 100 10.20.100.0/24 | jq -c '.ipam.routes=[{"dst":"203.0.113.0/24","gw":"198.51.100.1"}]')
	expect_fail cni vlan ADD /run/netns/a eth0 "$C" a
	[ "$(ip -n a -o link | grep -vc ': lo:')" = 0 ]
	[ "$(ip_files $DATA/vl100)" = 0 ]
}

dconf() { printf '{"cniVersion":"1.0.0","name":"dm","type":"dummy","ipam":{%s,"subnet":"10.30.0.0/24","routes":[{"dst":"10.31.0.0/16"}]}%s}' "$HL" "${1:+,$1}"; }
s_dummy() {
	R=$(cni dummy ADD /run/netns/a eth0 "$(dconf)" a)
	[ "$(jget "$R" '.interfaces[0].name')" = eth0 ]
	[ "$(jget "$R" '.ips[0].address')" = 10.30.0.2/24 ]
	ip -d -n a link show eth0 | grep -q dummy
	ip -n a -4 addr show eth0 | grep -q 10.30.0.2/24
	ip -n a route | grep -q '10.31.0.0/16 via 10.30.0.1 dev eth0'
	ip netns exec a ping -c1 -W1 10.30.0.2
	CC=$(dconf | jq -c --argjson p "$R" '.prevResult=$p')
	cni dummy CHECK /run/netns/a eth0 "$CC" a
	ip -n a route del 10.31.0.0/16
	expect_fail cni dummy CHECK /run/netns/a eth0 "$CC" a
	[[ "$(jget "$OUT" .msg)" == *"route (dst 10.31.0.0/16"* ]]
	cni dummy DEL /run/netns/a eth0 "$(dconf)" a
	cni dummy DEL /run/netns/a eth0 "$(dconf)" a
	! ip -n a link show eth0 || false
	[ "$(ip_files $DATA/dm)" = 0 ]
}
s_dummy_errors() {
	expect_fail cni dummy ADD /run/netns/a eth0 '{"cniVersion":"1.0.0","name":"dm","type":"dummy"}' a
	[ "$(jget "$OUT" .msg)" = "dummy interface requires an IPAM configuration" ]
	ip -n a link add eth0 type veth peer name x0
	expect_fail cni dummy ADD /run/netns/a eth0 "$(dconf)" a
	[ "$(jget "$OUT" .code)" = 106 ]
	[ "$(ip_files $DATA/dm)" = 0 ]
	ip -n a link del eth0
	cni dummy ADD /run/netns/b eth0 "$(dconf)" b > /dev/null
	ip netns del b
	cni dummy DEL /run/netns/b eth0 "$(dconf)" b
	[ "$(ip_files $DATA/dm)" = 0 ]
	ns_new b
}

echo "# kernel $(uname -r)"
scenario "vlan: containers on vlan 100 and 200 reach only their own vlan" s_vlan_traffic
scenario "vlan: master required, vlanId range, mtu against master" s_vlan_conf
scenario "vlan: linkInContainer master" s_vlan_in_container
scenario "vlan: one id per master, DEL twice and with the master gone" s_vlan_del
scenario "vlan: CHECK passes, detects a wrong vlan id and a lost address" s_vlan_check
scenario "vlan: forced failure leaks no link and no address" s_vlan_fail
scenario "dummy: address and route applied, CHECK, DEL twice" s_dummy
scenario "dummy: ipam required, name clash and netns-gone DEL leak nothing" s_dummy_errors
finish
