#!/bin/bash
# bridge plugin VLAN keys in the netlab guest (the host kernel has no
# CONFIG_BRIDGE_VLAN_FILTERING): vlan, vlanTrunk, preserveDefaultVlan and the
# "<bridge>.<vlan>" gateway.
. ./lib.sh
DATA=/tmp/ipam
for n in a b c d t; do ns_new $n; done
RESET=reset
reset() {
	for n in a b c d t; do ip -n $n link del eth0; done
	for b in brv brt brg; do ip link del $b; done
	for l in $(ip -o link show type veth | awk -F'[ :@]+' '{print $2}'); do ip link del "$l"; done
	rm -rf $DATA
}

# sconf BRIDGE ADDRESS EXTRA: static address, no gateway
sconf() {
	printf '{"cniVersion":"1.1.0","name":"s%s","type":"bridge","bridge":"%s","ipam":{"type":"static","addresses":[{"address":"%s"}]}%s}' \
		"$1" "$1" "$2" "${3:+,$3}"
}
# port VLANs of a link as "vid[:P][:U]" words (ranges expanded), sorted
vlans() {
	bridge -j vlan show dev "$1" | jq -r '.[0].vlans // [] | .[] |
		(if .vlanEnd then "\(range(.vlan; .vlanEnd + 1))" else "\(.vlan)" end) +
		(if (.flags // []) | index("PVID") then ":P" else "" end) +
		(if (.flags // []) | index("Egress Untagged") then ":U" else "" end)' | sort -t: -k1,1n | tr '\n' ' '
}
hostveth() { jget "$1" '.interfaces[1].name'; }

s_access() {
	R=$(cni bridge ADD /run/netns/a eth0 "$(sconf brv 10.30.0.10/24 '"vlan":100,"preserveDefaultVlan":false')" a)
	ha=$(hostveth "$R")
	[ "$(ip -d -j link show brv | jq -r '.[0].linkinfo.info_data.vlan_filtering')" = 1 ]
	[ "$(vlans $ha)" = "100:P:U " ]
	R=$(cni bridge ADD /run/netns/b eth0 "$(sconf brv 10.30.0.11/24 '"vlan":100')" b)
	# preserveDefaultVlan (default true) keeps VID 1 on the port
	[ "$(vlans $(hostveth "$R"))" = "1:U 100:P:U " ]
	R=$(cni bridge ADD /run/netns/c eth0 "$(sconf brv 10.30.0.12/24 '"vlan":200,"preserveDefaultVlan":false')" c)
	[ "$(vlans $(hostveth "$R"))" = "200:P:U " ]
	ip netns exec a ping -c1 -W2 10.30.0.11
	ip netns exec b ping -c1 -W2 10.30.0.10
	! ip netns exec a ping -c1 -W1 10.30.0.12 || false
	! ip netns exec c ping -c1 -W1 10.30.0.10 || false
	P=$(printf '%s' "$R" | jq -c .)
	CC=$(sconf brv 10.30.0.12/24 '"vlan":200,"preserveDefaultVlan":false,"prevResult":'"$P")
	hc=$(hostveth "$R")
	cni bridge CHECK /run/netns/c eth0 "$CC" c
	# CHECK sees the port's VLANs: the PVID gone, a VID added by hand
	bridge vlan del dev $hc vid 200
	expect_fail cni bridge CHECK /run/netns/c eth0 "$CC" c
	[ "$(jget "$OUT" .code)" = 107 ]
	[ "$(jget "$OUT" .msg)" = "bridge port $hc does not have vlan 200 as its untagged PVID" ]
	bridge vlan add dev $hc vid 200 pvid untagged
	cni bridge CHECK /run/netns/c eth0 "$CC" c
	bridge vlan add dev $hc vid 300
	expect_fail cni bridge CHECK /run/netns/c eth0 "$CC" c
	[ "$(jget "$OUT" .msg)" = "bridge port $hc carries vlan 300, which is not in its configuration" ]
	bridge vlan del dev $hc vid 300
	# with preserveDefaultVlan (b) what the port had stays allowed
	P=$(cni bridge ADD /run/netns/d eth0 "$(sconf brv 10.30.0.13/24 '"vlan":100')" d | jq -c .)
	cni bridge CHECK /run/netns/d eth0 "$(sconf brv 10.30.0.13/24 '"vlan":100,"prevResult":'"$P")" d
	cni bridge DEL /run/netns/a eth0 "$(sconf brv 10.30.0.10/24 '"vlan":100')" a
	cni bridge DEL /run/netns/a eth0 "$(sconf brv 10.30.0.10/24 '"vlan":100')" a
	! ip link show "$ha" || false
}

s_trunk() {
	# access ports on 100, 200 and 300; the trunk carries 100 and 200-210 tagged
	cni bridge ADD /run/netns/a eth0 "$(sconf brt 10.31.100.10/24 '"vlan":100,"preserveDefaultVlan":false')" a > /dev/null
	cni bridge ADD /run/netns/b eth0 "$(sconf brt 10.31.200.10/24 '"vlan":200,"preserveDefaultVlan":false')" b > /dev/null
	cni bridge ADD /run/netns/c eth0 "$(sconf brt 10.31.250.10/24 '"vlan":250,"preserveDefaultVlan":false')" c > /dev/null
	TC='{"cniVersion":"1.1.0","name":"tr","type":"bridge","bridge":"brt","vlanTrunk":[{"id":100},{"minID":200,"maxID":210}],"preserveDefaultVlan":false,"ipam":{}}'
	R=$(cni bridge ADD /run/netns/t eth0 "$TC" t)
	ht=$(hostveth "$R")
	[ "$(vlans $ht)" = "100 $(seq -s ' ' 200 210) " ]
	TCP=$(printf '%s' "$TC" | jq -c --argjson p "$R" '. + {prevResult: $p}')
	cni bridge CHECK /run/netns/t eth0 "$TCP" t
	bridge vlan del dev $ht vid 205
	expect_fail cni bridge CHECK /run/netns/t eth0 "$TCP" t
	[ "$(jget "$OUT" .msg)" = "bridge port $ht does not carry trunk vlan 205 tagged" ]
	bridge vlan add dev $ht vid 205 untagged
	expect_fail cni bridge CHECK /run/netns/t eth0 "$TCP" t
	[ "$(jget "$OUT" .msg)" = "bridge port $ht does not carry trunk vlan 205 tagged" ]
	bridge vlan add dev $ht vid 205
	cni bridge CHECK /run/netns/t eth0 "$TCP" t
	for v in 100 200 250; do
		ip -n t link add link eth0 name eth0.$v type vlan id $v
		ip -n t addr add 10.31.$v.1/24 dev eth0.$v
		ip -n t link set eth0.$v up
	done
	ip netns exec t ping -c1 -W2 10.31.100.10
	ip netns exec t ping -c1 -W2 10.31.200.10
	! ip netns exec t ping -c1 -W1 10.31.250.10 || false
	# untagged frames from the trunk port go nowhere (no PVID, VID 1 removed):
	# the access container of vlan 100 is sent to untagged, on eth0 itself
	ip -n t addr add 10.31.1.1/24 dev eth0
	ip -n t route add 10.31.100.10/32 dev eth0
	! ip netns exec t ping -c1 -W1 10.31.100.10 || false
	ip -n t route del 10.31.100.10/32 dev eth0
	# trunk with a native vlan: vlan is the PVID, the trunk VIDs tagged
	R=$(cni bridge ADD /run/netns/d eth0 '{"cniVersion":"1.1.0","name":"tr2","type":"bridge","bridge":"brt","vlan":300,"vlanTrunk":[{"id":100},{"id":300}],"ipam":{}}' d)
	[ "$(vlans $(hostveth "$R"))" = "1:U 100 300:P:U " ]
}

s_gateway() {
	C='{"cniVersion":"1.1.0","name":"g100","type":"bridge","bridge":"brg","isGateway":true,"vlan":100,"preserveDefaultVlan":false,"ipam":{"type":"host-local","dataDir":"'$DATA'","subnet":"10.32.0.0/24"}}'
	R=$(cni bridge ADD /run/netns/a eth0 "$C" a)
	[ "$(jget "$R" '.interfaces|length')" = 4 ]
	[ "$(jget "$R" '.interfaces[3].name')" = brg.100 ]
	[ "$(jget "$R" '.interfaces[3].mac')" = "$(cat /sys/class/net/brg.100/address)" ]
	ip -j addr show brg.100 | jq -e '.[0].addr_info | map(.local) | index("10.32.0.1")'
	[ -z "$(ip -4 addr show dev brg)" ]
	# the gateway's bridge port carries vlan 100 only
	gp=$(ip -j link show brg.100 | jq -r '.[0].link')
	[ "$(vlans $gp)" = "100:P:U " ]
	ip netns exec a ping -c1 -W2 10.32.0.1
	# a second container reuses it
	cni bridge ADD /run/netns/b eth0 "$C" b > /dev/null
	[ "$(ip -o link show | grep -c 'brg\.100@')" = 1 ]
	ip netns exec b ping -c1 -W2 10.32.0.1
	ip netns exec b ping -c1 -W2 10.32.0.2
	# vlan 200 on the same bridge: its own gateway interface, no way to vlan 100's
	C2=$(printf '%s' "$C" | jq -c '.name="g200" | .vlan=200 | .ipam.subnet="10.33.0.0/24"')
	R=$(cni bridge ADD /run/netns/c eth0 "$C2" c)
	[ "$(jget "$R" '.interfaces[3].name')" = brg.200 ]
	ip netns exec c ping -c1 -W2 10.33.0.1
	cni bridge DEL /run/netns/a eth0 "$C" a
	cni bridge DEL /run/netns/b eth0 "$C" b
	cni bridge DEL /run/netns/c eth0 "$C2" c
	[ "$(ip_files $DATA/g100)" = 0 ]
	# the gateway interface stays, as the reference
	ip link show brg.100
}

s_conf() {
	# a bridge name too long for "<bridge>.<vlan>"
	expect_fail cni bridge ADD /run/netns/a eth0 '{"cniVersion":"1.1.0","name":"gl","type":"bridge","bridge":"brlongname1234","isGateway":true,"vlan":100,"ipam":{"type":"host-local","dataDir":"'$DATA'","subnet":"10.34.0.0/24"}}' a
	[ "$(jget "$OUT" .code)" = 7 ]
	[ "$(ip_files $DATA/gl)" = 0 ]
	! ip -n a link show eth0 || false
	ip link del brlongname1234
}

scenario "bridge vlan: access ports reach their own vlan only, PVID untagged, preserveDefaultVlan; CHECK sees the port VLANs" s_access
scenario "bridge vlan: trunk port carries tagged frames of its vlans only; CHECK sees a trunk VID missing or untagged" s_trunk
scenario "bridge vlan: isGateway with vlan puts the gateway on <bridge>.<vlan>" s_gateway
scenario "bridge vlan: a gateway name too long is refused and rolled back" s_conf
finish
