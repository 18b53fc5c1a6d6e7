#!/usr/bin/env bats
# Masquerade (pkg/netfilter/masq.c) through the test driver test/tools/masqctl.c:
# elements in table inet cni_c appear and go, DEL is idempotent and needs no
# address, CHECK and GC, and real traffic leaves with the host's address.
load helpers

setup_file() {
	export MASQCTL="$BATS_FILE_TMPDIR/masqctl"
	tool masqctl
}

setup() {
	require_root
	setup_common
	NET="mq$TID"
	export CNI_C_STATE_DIR="$TMP/state"
	# an octet of our own for the test's subnets: 10.2xx.<o>.0/24
	O1=$(( 0x${TID:0:2} % 250 + 1 ))
	on_cleanup "$MASQCTL gc $NET"
}
teardown() { teardown_common; }

# elements of set NAME in table inet cni_c, one "addr comment" per line
elems() {
	nft -j list set inet cni_c "$1" 2>/dev/null |
		jq -r '.nftables[] | select(.set) | .set.elem // [] | .[] |
			if type == "object" then "\(.elem.val) \(.elem.comment // "")" else "\(.) " end'
}
# wait for released (expiring) elements to vanish
settle() { sleep 0.05; }

@test "masq: add creates one rule per family and tagged elements; del removes them" {
	run "$MASQCTL" add "$NET" c1 eth0 10.231.$O1.2/24 fd31:$O1::2/64
	[ "$status" -eq 0 ]
	[ "$(elems masq4_$NET)" = "10.231.$O1.2 $NET/c1/eth0" ]
	[ "$(elems masq6_$NET)" = "fd31:$O1::2 $NET/c1/eth0" ]
	run bash -c "nft -j list chain inet cni_c masq_postrouting | jq -r '.nftables[]|select(.rule)|.rule.comment' | grep -c ' $NET\$'"
	[ "$output" = 2 ]
	nft list chain inet cni_c masq_postrouting | grep "ip saddr @masq4_$NET ip daddr != 224.0.0.0/4 ip daddr != @masqnet4_$NET masquerade"
	[ -f "$CNI_C_STATE_DIR/masq/$NET/c1:eth0" ]

	"$MASQCTL" add "$NET" c2 eth0 10.231.$O1.3/24
	run bash -c "nft -j list chain inet cni_c masq_postrouting | jq -r '.nftables[]|select(.rule)|.rule.comment' | grep -c ' $NET\$'"
	[ "$output" = 2 ]   # still one rule per family
	[ "$(elems masq4_$NET | wc -l)" = 2 ]

	run "$MASQCTL" del "$NET" c1 eth0
	[ "$status" -eq 0 ]
	settle
	[ "$(elems masq4_$NET)" = "10.231.$O1.3 $NET/c2/eth0" ]
	[ -z "$(elems masq6_$NET)" ]
	[ ! -e "$CNI_C_STATE_DIR/masq/$NET/c1:eth0" ]
	"$MASQCTL" del "$NET" c2 eth0
}

@test "masq: DEL twice, DEL of a never-added attachment, DEL without any state all succeed" {
	"$MASQCTL" add "$NET" c1 eth0 10.231.$O1.2/24
	run "$MASQCTL" del "$NET" c1 eth0
	[ "$status" -eq 0 ]
	run "$MASQCTL" del "$NET" c1 eth0
	[ "$status" -eq 0 ]
	run "$MASQCTL" del "$NET" never eth0
	[ "$status" -eq 0 ]
	run "$MASQCTL" del "nonet$TID" c1 eth0
	[ "$status" -eq 0 ]
}

@test "masq: re-ADD right after DEL keeps the address masqueraded" {
	"$MASQCTL" add "$NET" c1 eth0 10.231.$O1.2/24
	"$MASQCTL" del "$NET" c1 eth0
	"$MASQCTL" add "$NET" c1 eth0 10.231.$O1.2/24
	settle
	[ "$(elems masq4_$NET)" = "10.231.$O1.2 $NET/c1/eth0" ]
	run "$MASQCTL" check "$NET" c1 eth0 10.231.$O1.2/24
	[ "$status" -eq 0 ]
}

@test "masq: an address left by a stale owner is taken over; its late DEL leaves the new owner alone" {
	"$MASQCTL" add "$NET" old eth0 10.231.$O1.2/24
	"$MASQCTL" add "$NET" new eth0 10.231.$O1.2/24
	[ "$(elems masq4_$NET)" = "10.231.$O1.2 $NET/new/eth0" ]
	"$MASQCTL" del "$NET" old eth0
	settle
	[ "$(elems masq4_$NET)" = "10.231.$O1.2 $NET/new/eth0" ]
}

@test "masq: CHECK finds a removed element" {
	"$MASQCTL" add "$NET" c1 eth0 10.231.$O1.2/24
	run "$MASQCTL" check "$NET" c1 eth0 10.231.$O1.2/24
	[ "$status" -eq 0 ]
	nft delete element inet cni_c masq4_$NET "{ 10.231.$O1.2 }"
	run "$MASQCTL" check "$NET" c1 eth0 10.231.$O1.2/24
	[ "$status" -eq 1 ]
	[[ "$output" == "107: masquerade for 10.231.$O1.2 of network $NET is missing"* ]]
	run "$MASQCTL" del "$NET" c1 eth0
	[ "$status" -eq 0 ]
}

@test "masq: GC removes elements and records of attachments not in the valid list, only of its network" {
	"$MASQCTL" add "$NET" keep eth0 10.231.$O1.2/24
	"$MASQCTL" add "$NET" stale eth0 10.231.$O1.3/24 fd31:$O1::3/64
	"$MASQCTL" add "${NET}x" other eth0 10.232.$O1.3/24
	on_cleanup "$MASQCTL gc ${NET}x"
	run "$MASQCTL" gc "$NET" keep/eth0
	[ "$status" -eq 0 ]
	settle
	[ "$(elems masq4_$NET)" = "10.231.$O1.2 $NET/keep/eth0" ]
	[ -z "$(elems masq6_$NET)" ]
	[ "$(elems masq4_${NET}x)" = "10.232.$O1.3 ${NET}x/other/eth0" ]
	[ -e "$CNI_C_STATE_DIR/masq/$NET/keep:eth0" ]
	[ ! -e "$CNI_C_STATE_DIR/masq/$NET/stale:eth0" ]
}

@test "masq: concurrent first ADDs on a new network create exactly one rule" {
	for i in $(seq 2 21); do "$MASQCTL" add "$NET" c$i eth0 10.231.$O1.$i/24 & done
	wait
	[ "$(elems masq4_$NET | wc -l)" = 20 ]
	run bash -c "nft -j list chain inet cni_c masq_postrouting | jq -r '.nftables[]|select(.rule)|.rule.comment' | grep -c ' $NET\$'"
	[ "$output" = 1 ]
}

@test "masq: traffic to an outside netns leaves with the host address, not to the own subnet" {
	local c=mqc$TID o=mqo$TID P=$(( RANDOM % 20000 + 20000 ))
	netns_new $c
	netns_new $o
	ip link add vc$TID type veth peer name eth0 netns $c
	link_cleanup vc$TID
	ip link add vo$TID type veth peer name eth0 netns $o
	link_cleanup vo$TID
	ip addr add 10.233.$O1.1/24 dev vc$TID
	ip link set vc$TID up
	ip addr add 10.234.$O1.1/24 dev vo$TID
	ip link set vo$TID up
	ip -n $c addr add 10.233.$O1.2/24 dev eth0
	ip -n $c link set eth0 up
	ip -n $c route add default via 10.233.$O1.1
	ip -n $o addr add 10.234.$O1.2/24 dev eth0
	ip -n $o link set eth0 up    # no route back to 10.233.x: only masquerade makes replies come back
	"$MASQCTL" add "$NET" c1 eth0 10.233.$O1.2/24

	ip netns exec $o socat -T5 TCP-LISTEN:$P,reuseaddr SYSTEM:'echo peer=$SOCAT_PEERADDR' &
	on_cleanup "kill $! 2>/dev/null"
	sleep 0.2
	run ip netns exec $c socat -T5 - TCP:10.234.$O1.2:$P,connect-timeout=3
	[ "$status" -eq 0 ]
	[ "$output" = "peer=10.234.$O1.1" ]

	# without the element: no masquerade, no reply
	"$MASQCTL" del "$NET" c1 eth0
	settle
	ip netns exec $o socat -T2 TCP-LISTEN:$P,reuseaddr SYSTEM:'echo peer=$SOCAT_PEERADDR' &
	on_cleanup "kill $! 2>/dev/null"
	sleep 0.2
	run ip netns exec $c socat -T2 - TCP:10.234.$O1.2:$P,connect-timeout=1
	[ "$status" -ne 0 ]
}
