#!/usr/bin/env bats
# portmap with real traffic. The container side comes from the reference
# bridge + host-local in /usr/lib/cni until our bridge is merged.
load helpers

REF=${REF_CNI:-/usr/lib/cni}

setup() {
	require_root
	setup_common
	NET="pm$TID"
	O=$(( 0x${TID:0:2} % 250 + 1 ))
	SUB="10.238.$O"
	OUT="10.239.$O"
	HP=$(( RANDOM % 15000 + 20000 ))
	BR="pb$TID"
	export IPAMDIR="$TMP/ipam"
	link_cleanup "$BR"
	on_cleanup "rm -rf /var/lib/cni/cni-c/portmap/$NET"
	# the subnet is a network-level hairpin source element (never removed by DEL)
	on_cleanup "nft delete element inet cni_c pmsrc4 '{ $SUB.0/24 }'"
	on_cleanup "nft delete element inet cni_c pmsrc6 '{ fd39:$O::/64 }'"
}
teardown() { teardown_common; }

brconf() { # extra json for the bridge config
	echo '{"cniVersion":"1.0.0","name":"'$NET'","type":"bridge","bridge":"'$BR'","isGateway":true,"isDefaultGateway":true,"hairpinMode":true,
	 "ipam":{"type":"host-local","dataDir":"'$IPAMDIR'","ranges":[[{"subnet":"'$SUB'.0/24"}]]}}'
}

# container NAME: netns + reference bridge ADD; sets RES_<NAME>
container() {
	local n=$1 ns=pc$1$TID
	netns_new $ns
	local r
	r=$(brconf | CNI_COMMAND=ADD CNI_CONTAINERID=$n$TID CNI_NETNS=/run/netns/$ns CNI_IFNAME=eth0 CNI_PATH=$REF $REF/bridge)
	on_cleanup "brconf | CNI_COMMAND=DEL CNI_CONTAINERID=$n$TID CNI_NETNS=/run/netns/$ns CNI_IFNAME=eth0 CNI_PATH=$REF $REF/bridge"
	printf -v "RES_$n" '%s' "$r"
}

# pmconf RESULT MAPPINGS [EXTRA-KEYS]: portmap config with prevResult
pmconf() {
	jq -nc --argjson r "$1" --argjson m "$2" --argjson x "${3:-{\}}" --arg net "$NET" \
		'{cniVersion:"1.0.0",name:$net,type:"portmap",runtimeConfig:{portMappings:$m},prevResult:$r} + $x'
}

# pm CMD CID CONF: run our portmap for container CID
pm() {
	printf '%s' "$3" | CNI_COMMAND=$1 CNI_CONTAINERID=$2$TID CNI_NETNS=/run/netns/pc$2$TID CNI_IFNAME=eth0 \
		CNI_PATH=$BIN $BIN/portmap
}

# serve NAME PROTO PORT: reply "<NAME> <peer>" to every connection/datagram
serve() {
	local kind=TCP-LISTEN
	[ "$2" = udp ] && kind=UDP-RECVFROM
	ip netns exec pc$1$TID socat $kind:$3,reuseaddr,fork SYSTEM:"echo $1 \$SOCAT_PEERADDR" &
	on_cleanup "kill $! 2>/dev/null"
}

# outside netns with a veth to the host: host $OUT.1, outside $OUT.2
outside() {
	netns_new po$TID
	ip link add vo$TID type veth peer name eth0 netns po$TID
	link_cleanup vo$TID
	ip addr add $OUT.1/24 dev vo$TID
	ip link set vo$TID up
	ip -n po$TID addr add $OUT.2/24 dev eth0
	ip -n po$TID link set eth0 up
	ip -n po$TID route add default via $OUT.1
}

tcp() { socat -T3 - TCP:$1,connect-timeout=2 </dev/null; }
# UDP: the first datagram may race the server's start; try a few times
udp() { local i r; for i in 1 2 3 4 5; do r=$(echo ping | socat -T1 - UDP:$1 2>/dev/null) && [ -n "$r" ] && { echo "$r"; return 0; }; sleep 0.2; done; return 1; }
settle() { sleep 0.05; }

@test "portmap: no mappings prints prevResult and touches nothing" {
	container a
	run pm ADD a "$(pmconf "$RES_a" '[]')"
	[ "$status" -eq 0 ]
	[ "$(json_get "$output" '.ips[0].address')" = "$SUB.2/24" ]
	[ ! -e /var/lib/cni/cni-c/portmap/$NET ]
}

@test "portmap: ADD without prevResult fails" {
	netns_new pca$TID
	run pm ADD a '{"cniVersion":"1.0.0","name":"'$NET'","type":"portmap"}'
	[ "$status" -eq 1 ]
	[[ "$(json_get "$output" .msg)" == *"must be called as chained plugin"* ]]
}

@test "portmap: TCP from the host IP, 127.0.0.1, an outside netns, another container and the container itself" {
	container a
	container b
	outside
	serve a tcp 80
	run pm ADD a "$(pmconf "$RES_a" '[{"hostPort":'$HP',"containerPort":80,"protocol":"tcp"}]')"
	[ "$status" -eq 0 ]
	on_cleanup "pm DEL a '$(pmconf "$RES_a" '[]')'"
	[ "$(json_get "$output" '.ips[0].address')" = "$SUB.2/24" ]
	sleep 0.2
	[ "$(tcp $OUT.1:$HP)" = "a $OUT.1" ]             # host IP, from the host
	[ "$(tcp 127.0.0.1:$HP)" = "a $SUB.1" ]          # localhost: route_localnet + snat
	[ "$(sysctl -n net.ipv4.conf.$BR.route_localnet)" = 1 ]
	[ "$(ip netns exec po$TID socat -T3 - TCP:$OUT.1:$HP,connect-timeout=2)" = "a $OUT.2" ] # outside keeps its source
	[ "$(ip netns exec pcb$TID socat -T3 - TCP:$OUT.1:$HP,connect-timeout=2)" = "a $SUB.1" ] # other container: hairpin snat
	[ "$(ip netns exec pca$TID socat -T3 - TCP:$OUT.1:$HP,connect-timeout=2)" = "a $SUB.1" ] # itself
}

@test "portmap: UDP mapping, and DEL removes it; DEL twice succeeds" {
	container a
	serve a udp 53
	local conf
	conf=$(pmconf "$RES_a" '[{"hostPort":'$HP',"containerPort":53,"protocol":"udp"}]')
	run pm ADD a "$conf"
	[ "$status" -eq 0 ]
	on_cleanup "pm DEL a '$conf'"
	sleep 0.2
	[ "$(udp $SUB.1:$HP)" = "a $SUB.1" ]
	nft -j list map inet cni_c pm4 | jq -e --arg t "$NET/a$TID/eth0" '[.nftables[]|select(.map)|.map.elem//[]|.[]|select(.[0].elem.comment==$t)]|length==1'
	run pm DEL a "$conf"
	[ "$status" -eq 0 ]
	settle
	nft -j list map inet cni_c pm4 | jq -e --arg t "$NET/a$TID/eth0" '[.nftables[]|select(.map)|.map.elem//[]|.[]|select(.[0].elem.comment==$t)]|length==0'
	run pm DEL a "$conf"
	[ "$status" -eq 0 ]
}

@test "portmap: a stale UDP conntrack entry of the host port is flushed on ADD (same 5-tuple reaches the container)" {
	container a
	serve a udp 53
	local sp=$(( HP + 1 ))
	# before the mapping: a datagram to the host port creates a conntrack entry without NAT
	echo x | socat -T0.3 - UDP:$SUB.1:$HP,sourceport=$sp 2>/dev/null || true
	grep -q "dport=$HP " /proc/net/nf_conntrack 2>/dev/null || true
	run pm ADD a "$(pmconf "$RES_a" '[{"hostPort":'$HP',"containerPort":53,"protocol":"udp"}]')"
	[ "$status" -eq 0 ]
	on_cleanup "pm DEL a '$(pmconf "$RES_a" '[]')'"
	sleep 0.2
	run bash -c "echo ping | socat -T1 - UDP:$SUB.1:$HP,sourceport=$sp"
	[ "$output" = "a $SUB.1" ]
}

@test "portmap: hostIP binds the mapping to one address" {
	container a
	outside
	serve a tcp 80
	run pm ADD a "$(pmconf "$RES_a" '[{"hostPort":'$HP',"containerPort":80,"hostIP":"'$OUT.1'"},{"hostPort":'$HP',"containerPort":80,"hostIP":"fd00::1"}]')"
	[ "$status" -eq 0 ]
	on_cleanup "pm DEL a '$(pmconf "$RES_a" '[]')'"
	sleep 0.2
	[ "$(tcp $OUT.1:$HP)" = "a $OUT.1" ]
	run tcp $SUB.1:$HP
	[ "$status" -ne 0 ]
	# the v6 hostIP is skipped: the container has no v6 address
	[ "$(nft -j list map inet cni_c pm6h | jq '[.nftables[]|select(.map)|.map.elem//[]|.[]]|length')" = 0 ] ||
		! nft -j list map inet cni_c pm6h | grep -q "$NET/a$TID"
}

@test "portmap: a port published by another container is a conflict naming the owner; lastWriterWins takes it" {
	container a
	container b
	serve a tcp 80
	serve b tcp 80
	local m='[{"hostPort":'$HP',"containerPort":80}]'
	pm ADD a "$(pmconf "$RES_a" "$m")"
	on_cleanup "pm DEL a '$(pmconf "$RES_a" '[]')'"
	run pm ADD b "$(pmconf "$RES_b" "$m")"
	[ "$status" -eq 1 ]
	[ "$(json_get "$output" .code)" = 109 ]
	[[ "$(json_get "$output" .msg)" == *"tcp 0.0.0.0:$HP is already allocated to container a$TID (interface eth0, network $NET)"* ]]
	sleep 0.2
	[ "$(tcp $SUB.1:$HP)" = "a $SUB.1" ]
	run pm ADD b "$(pmconf "$RES_b" "$m" '{"conflictPolicy":"lastWriterWins"}')"
	[ "$status" -eq 0 ]
	on_cleanup "pm DEL b '$(pmconf "$RES_b" '[]')'"
	[ "$(tcp $SUB.1:$HP)" = "b $SUB.1" ]
	# the old owner's DEL leaves the new owner's mapping alone
	pm DEL a "$(pmconf "$RES_a" '[]')"
	settle
	[ "$(tcp $SUB.1:$HP)" = "b $SUB.1" ]
}

@test "portmap: DEL without prevResult and runtimeConfig removes what was published" {
	container a
	serve a tcp 80
	pm ADD a "$(pmconf "$RES_a" '[{"hostPort":'$HP',"containerPort":80}]')"
	sleep 0.2
	[ "$(tcp $SUB.1:$HP)" = "a $SUB.1" ]
	run pm DEL a '{"cniVersion":"1.0.0","name":"'$NET'","type":"portmap"}'
	[ "$status" -eq 0 ]
	settle
	run tcp $SUB.1:$HP
	[ "$status" -ne 0 ]
	[ ! -e "/var/lib/cni/cni-c/portmap/$NET/a$TID:eth0" ]
}

@test "portmap: CHECK passes after ADD and fails after the element is removed by hand" {
	container a
	local conf
	conf=$(pmconf "$RES_a" '[{"hostPort":'$HP',"containerPort":80}]')
	pm ADD a "$conf"
	on_cleanup "pm DEL a '$conf'"
	run pm CHECK a "$conf"
	[ "$status" -eq 0 ]
	nft delete element inet cni_c pm4 "{ tcp . $HP }"
	run pm CHECK a "$conf"
	[ "$status" -eq 1 ]
	[ "$(json_get "$output" .code)" = 107 ]
	[[ "$(json_get "$output" .msg)" == *"tcp 0.0.0.0:$HP is missing"* ]]
}

@test "portmap: GC removes mappings of attachments not in the valid list" {
	container a
	container b
	pm ADD a "$(pmconf "$RES_a" '[{"hostPort":'$HP',"containerPort":80}]')"
	pm ADD b "$(pmconf "$RES_b" '[{"hostPort":'$((HP+1))',"containerPort":80}]')"
	on_cleanup "pm DEL a '$(pmconf "$RES_a" '[]')'"
	run bash -c "printf '%s' '{\"cniVersion\":\"1.1.0\",\"name\":\"$NET\",\"type\":\"portmap\",\"cni.dev/valid-attachments\":[{\"containerID\":\"a$TID\",\"ifname\":\"eth0\"}]}' | CNI_COMMAND=GC CNI_PATH=$BIN $BIN/portmap"
	[ "$status" -eq 0 ]
	settle
	local left
	left=$(nft -j list map inet cni_c pm4 | jq -r '.nftables[]|select(.map)|.map.elem//[]|.[]|.[0].elem.comment' | grep "^$NET/" || true)
	[ "$left" = "$NET/a$TID/eth0" ]
	[ -e "/var/lib/cni/cni-c/portmap/$NET/a$TID:eth0" ]
	[ ! -e "/var/lib/cni/cni-c/portmap/$NET/b$TID:eth0" ]
}

@test "portmap: IPv6 mapping from the host's v6 address" {
	netns_new pcv$TID
	local conf r
	conf='{"cniVersion":"1.0.0","name":"'$NET'","type":"bridge","bridge":"'$BR'","ipam":{"type":"host-local","dataDir":"'$IPAMDIR'","ranges":[[{"subnet":"fd39:'$O'::/64"}]]}}'
	r=$(printf '%s' "$conf" | CNI_COMMAND=ADD CNI_CONTAINERID=v$TID CNI_NETNS=/run/netns/pcv$TID CNI_IFNAME=eth0 CNI_PATH=$REF $REF/bridge)
	on_cleanup "printf '%s' '$conf' | CNI_COMMAND=DEL CNI_CONTAINERID=v$TID CNI_NETNS=/run/netns/pcv$TID CNI_IFNAME=eth0 CNI_PATH=$REF $REF/bridge"
	ip addr add fd39:$O::1/64 dev $BR nodad
	ip link set $BR up
	ip netns exec pcv$TID socat TCP6-LISTEN:80,reuseaddr,fork SYSTEM:'echo v6 $SOCAT_PEERADDR' &
	on_cleanup "kill $! 2>/dev/null"
	run pm ADD v "$(pmconf "$r" '[{"hostPort":'$HP',"containerPort":80}]')"
	[ "$status" -eq 0 ]
	on_cleanup "pm DEL v '$(pmconf "$r" '[]')'"
	sleep 0.3
	run socat -T3 - "TCP6:[fd39:$O::1]:$HP,connect-timeout=2"
	[ "$status" -eq 0 ]
	[[ "$output" == "v6 "* ]]
}

@test "portmap: conditions: supported matches restrict, unsupported ones are code 2" {
	container a
	outside
	serve a tcp 80
	run pm ADD a "$(pmconf "$RES_a" '[{"hostPort":'$HP',"containerPort":80}]' '{"conditionsV4":["-m","comment"]}')"
	[ "$status" -eq 1 ]
	[ "$(json_get "$output" .code)" = 2 ]
	[[ "$(json_get "$output" .msg)" == *'"-m"'* ]]
	run pm ADD a "$(pmconf "$RES_a" '[{"hostPort":'$HP',"containerPort":80}]' '{"conditionsV4":["ip","saddr","'$OUT'.2"]}')"
	[ "$status" -eq 0 ]
	on_cleanup "pm DEL a '$(pmconf "$RES_a" '[]')'"
	on_cleanup "printf '%s' '{\"cniVersion\":\"1.1.0\",\"name\":\"$NET\",\"type\":\"portmap\",\"cni.dev/valid-attachments\":[]}' | CNI_COMMAND=GC CNI_PATH=$BIN $BIN/portmap"
	sleep 0.2
	[ "$(ip netns exec po$TID socat -T3 - TCP:$OUT.1:$HP,connect-timeout=2)" = "a $OUT.2" ]
	run tcp $OUT.1:$HP     # from the host: source is not $OUT.2
	[ "$status" -ne 0 ]
	nft list chain inet cni_c pm_dnat | grep -q "ip saddr $OUT.2 dnat ip to meta l4proto . th dport map @pm4_$NET"
	# GC with no attachment left removes the network's conditional maps and rules
	pm DEL a "$(pmconf "$RES_a" '[]')"
	printf '%s' '{"cniVersion":"1.1.0","name":"'$NET'","type":"portmap","cni.dev/valid-attachments":[]}' | CNI_COMMAND=GC CNI_PATH=$BIN $BIN/portmap
	! nft list chain inet cni_c pm_dnat | grep -q "$NET"
	! nft list map inet cni_c pm4_$NET 2>/dev/null
}

@test "portmap: the route_localnet guard drops packets to 127.0.0.0/8 from the network" {
	container a
	container b
	serve a tcp 80
	pm ADD a "$(pmconf "$RES_a" '[{"hostPort":'$HP',"containerPort":80,"hostIP":"127.0.0.1"}]')"
	on_cleanup "pm DEL a '$(pmconf "$RES_a" '[]')'"
	sleep 0.2
	[ "$(tcp 127.0.0.1:$HP)" = "a $SUB.1" ]
	# container b forces 127.0.0.1 through its gateway: must not reach the port
	ip -n pcb$TID route add 127.0.0.1/32 via $SUB.1 dev eth0 2>/dev/null || skip "cannot route 127.0.0.1 via the gateway in the netns"
	run ip netns exec pcb$TID socat -T2 - TCP:127.0.0.1:$HP,connect-timeout=1
	[ "$status" -ne 0 ]
}
