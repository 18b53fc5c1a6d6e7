#!/usr/bin/env bats
# portmap with real traffic. The container side comes from the reference
# bridge + host-local in /usr/lib/cni until our bridge is merged.
load helpers

REF=${REF_CNI:-/usr/lib/cni}

setup_file() {
	export SOCKLBCTL="$BATS_FILE_TMPDIR/socklbctl"
	tool socklbctl
}

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
	# the subnet is a network-level hairpin source element (DEL leaves it; only a GC drops it)
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

# v6container: netns pcv$TID on the bridge with an address of fd39:$O::/64
# (reference bridge + host-local, container "v"); sets RES_v
v6container() {
	netns_new pcv$TID
	local conf='{"cniVersion":"1.0.0","name":"'$NET'","type":"bridge","bridge":"'$BR'","ipam":{"type":"host-local","dataDir":"'$IPAMDIR'","ranges":[[{"subnet":"fd39:'$O'::/64"}]]}}'
	RES_v=$(printf '%s' "$conf" | CNI_COMMAND=ADD CNI_CONTAINERID=v$TID CNI_NETNS=/run/netns/pcv$TID CNI_IFNAME=eth0 CNI_PATH=$REF $REF/bridge)
	on_cleanup "printf '%s' '$conf' | CNI_COMMAND=DEL CNI_CONTAINERID=v$TID CNI_NETNS=/run/netns/pcv$TID CNI_IFNAME=eth0 CNI_PATH=$REF $REF/bridge"
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
# (the reply command reads the request first: socat fails with EPIPE, and may
# drop the reply, when the command exits before it could write the datagram)
serve() {
	local kind=TCP-LISTEN
	[ "$2" = udp ] && kind=UDP-RECVFROM
	ip netns exec pc$1$TID socat $kind:$3,reuseaddr,fork SYSTEM:"read -r l; echo $1 \$SOCAT_PEERADDR" &
	on_cleanup "kill $! 2>/dev/null"
	bound pc$1$TID $2 $3
}

# bound NETNS PROTO PORT: wait (2 s at most) until a server socket is bound:
# a single datagram sent before would be lost under load
bound() {
	local i f=-Hltn
	[ "$2" = udp ] && f=-Hlun
	for i in $(seq 40); do ip netns exec $1 ss $f "sport = :$3" | grep -q . && return 0; sleep 0.05; done
	echo "no $2 server on port $3 in $1"
	return 1
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
# (and under load socat may shut its socket down before writing: "Broken
# pipe"). udp HOST:PORT or udp SOCAT-ADDRESS (UDP6:[...]:port,sourceport=N):
# retries keep the same 5-tuple, so a stale conntrack entry still fails all.
udp() {
	local i r spec=$1
	[[ "$spec" == UDP* ]] || spec=UDP:$spec
	for i in 1 2 3 4 5; do r=$(echo ping | socat -T1 - "$spec" 2>/dev/null) && [ -n "$r" ] && { echo "$r"; return 0; }; sleep 0.2; done
	return 1
}
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

# peer SPEC: connect (python) from the host netns, print "<getpeername> <reply>"
peer() {
	python3 -c '
import socket, sys
a, p, bind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET)
s.settimeout(3)
if bind != "-":
    s.bind((bind, 0))
s.connect((a, p))
s.sendall(b"hi\n")
print(s.getpeername()[0], s.getpeername()[1], s.recv(100).decode().strip())
' "$@"
}
# the conntrack entry of our port-80 flows: "ORIG-DST:ORIG-DPORT" per line
ct_dst() { conntrack -L -p tcp ${2:+-f ipv6} --reply-src "$1" --reply-port-src 80 2>/dev/null | sed -n 's/.* dst=\([^ ]*\) sport=[0-9]* dport=\([0-9]*\) src=.*/\1:\2/p' | sort -u; }
lb_mine() { "$SOCKLBCTL" list | grep -F -- "$1" || true; }

@test "portmap: a host process' TCP connect() to a published port goes to the container directly: no DNAT, getpeername is the published address" {
	container a
	outside
	serve a tcp 80
	run pm ADD a "$(pmconf "$RES_a" '[{"hostPort":'$HP',"containerPort":80,"protocol":"tcp"}]')"
	[ "$status" -eq 0 ]
	on_cleanup "pm DEL a '$(pmconf "$RES_a" '[]')'"
	[ "$(lb_mine ":$HP ")" = "*:$HP -> $SUB.2:80 flags 1" ]
	# the library's open (ids file), walk and close, under valgrind (plain builds)
	if [ "${SANITIZE:-}" != 1 ] && command -v valgrind >/dev/null; then
		run valgrind -q --error-exitcode=9 --leak-check=full "$SOCKLBCTL" list
		echo "$output"
		[ "$status" -eq 0 ]
		[[ "$output" == *"*:$HP -> $SUB.2:80 flags 1"* ]]
	fi
	conntrack -D -p tcp --reply-src $SUB.2 >/dev/null 2>&1 || true
	# the host's own address: the socket is bound to it, the container sees it
	[ "$(peer $OUT.1 $HP -)" = "$OUT.1 $HP a $OUT.1" ]
	[ "$(ct_dst $SUB.2)" = "$SUB.2:80" ]    # connected to the container itself: nothing to NAT
	# localhost (snat on): the container sees the bridge address, as with DNAT + masquerade
	[ "$(peer 127.0.0.1 $HP -)" = "127.0.0.1 $HP a $SUB.1" ]
	[ "$(ct_dst $SUB.2)" = "$SUB.2:80" ]
	# a socket bound beforehand is left to DNAT, which serves it as before
	[ "$(peer $OUT.1 $HP $OUT.1)" = "$OUT.1 $HP a $OUT.1" ]
	[ "$(ct_dst $SUB.2 | sort)" = "$(printf '%s\n' "$OUT.1:$HP" "$SUB.2:80" | sort)" ]
	# an outside client is DNAT'd as always
	[ "$(ip netns exec po$TID socat -T3 - TCP:$OUT.1:$HP,connect-timeout=2)" = "a $OUT.2" ]
	# an address that is not the host's is not taken: the outside netns has no server
	run peer $OUT.2 $HP -
	[ "$status" -ne 0 ]
	[[ "$output" == *"Connection refused"* ]]
	run pm DEL a "$(pmconf "$RES_a" '[]')"
	[ "$status" -eq 0 ]
	[ -z "$(lb_mine ":$HP ")" ]
	run peer $OUT.1 $HP -
	[ "$status" -ne 0 ]
}

@test "portmap: connect() rewrite only where DNAT alone is not different: UDP, masqAll, conditions and snat false keep to DNAT" {
	container a
	container b
	serve a tcp 80
	local c1 c2 c3
	c1=$(pmconf "$RES_a" '[{"hostPort":'$HP',"containerPort":80,"protocol":"udp"},{"hostPort":'$((HP+1))',"containerPort":80}]' '{"snat":false}')
	run pm ADD a "$c1"
	[ "$status" -eq 0 ]
	on_cleanup "pm DEL a '$c1'"
	# snat false: the host's own address only (no localhost), UDP never
	[ "$(lb_mine ":$HP ")" = "" ]
	[ "$(lb_mine ":$((HP+1)) ")" = "*:$((HP+1)) -> $SUB.2:80 flags 0" ]
	run peer 127.0.0.1 $((HP+1)) -
	[ "$status" -ne 0 ]
	c2=$(pmconf "$RES_b" '[{"hostPort":'$((HP+2))',"containerPort":80}]' '{"masqAll":true}')
	run pm ADD b "$c2"
	[ "$status" -eq 0 ]
	on_cleanup "pm DEL b '$c2'"
	[ -z "$(lb_mine ":$((HP+2)) ")" ]
	run pm DEL b "$c2"
	c3=$(pmconf "$RES_b" '[{"hostPort":'$((HP+3))',"containerPort":80}]' '{"conditionsV4":["-s","'$SUB'.0/24"]}')
	run pm ADD b "$c3"
	[ "$status" -eq 0 ]
	on_cleanup "pm DEL b '$c3'"
	[ -z "$(lb_mine ":$((HP+3)) ")" ]
}

@test "portmap: 12 concurrent ADDs race to install the connect() programs: one set attached, every entry there; the last DEL detaches" {
	"$SOCKLBCTL" attached && skip "the connect() programs are attached by another user of this node: the first install cannot be raced here"
	local i pids=()
	for i in $(seq 12); do container c$i; done
	for i in $(seq 12); do
		local r=RES_c$i
		pm ADD c$i "$(pmconf "${!r}" '[{"hostPort":'$((HP+i))',"containerPort":80}]')" >/dev/null &
		pids+=($!)
		on_cleanup "pm DEL c$i '$(pmconf "${!r}" '[]')'"
	done
	for i in "${pids[@]}"; do wait "$i"; done
	[ "$("$SOCKLBCTL" count)" = "1 1 1 1" ]
	for i in $(seq 12); do
		[ "$(lb_mine ":$((HP+i)) ")" = "*:$((HP+i)) -> $SUB.$((i+1)):80 flags 1" ]
	done
	pids=()
	for i in $(seq 12); do
		local r=RES_c$i
		pm DEL c$i "$(pmconf "${!r}" '[]')" >/dev/null &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
	[ -z "$("$SOCKLBCTL" list)" ]
	[ "$("$SOCKLBCTL" count)" = "0 0 0 0" ]
	run "$SOCKLBCTL" attached
	[ "$status" -eq 1 ]
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
	run udp UDP:$SUB.1:$HP,sourceport=$sp
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
		! nft -j list map inet cni_c pm6h | grep -q "$NET/a$TID" || false
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
	[ "$(lb_mine ":$HP ")" = "*:$HP -> $SUB.3:80 flags 1" ]
}

@test "portmap: lastWriterWins onto the same container address: the stale owner's late DEL keeps the new owner's connect() entry" {
	container a
	serve a tcp 80
	local m='[{"hostPort":'$HP',"containerPort":80}]'
	pm ADD a "$(pmconf "$RES_a" "$m")"
	on_cleanup "pm DEL a '$(pmconf "$RES_a" '[]')'"
	# attachment z: another container id that got the same address (a's was never DEL'd)
	netns_new pcz$TID
	run pm ADD z "$(pmconf "$RES_a" "$m" '{"conflictPolicy":"lastWriterWins"}')"
	[ "$status" -eq 0 ]
	on_cleanup "pm DEL z '$(pmconf "$RES_a" '[]')'"
	pm DEL a "$(pmconf "$RES_a" '[]')"
	[ "$(lb_mine ":$HP ")" = "*:$HP -> $SUB.2:80 flags 1" ]
	conntrack -D -p tcp --reply-src $SUB.2 >/dev/null 2>&1 || true
	[ "$(peer $SUB.1 $HP -)" = "$SUB.1 $HP a $SUB.1" ]
	[ "$(ct_dst $SUB.2)" = "$SUB.2:80" ]
	pm DEL z "$(pmconf "$RES_a" '[]')"
	[ -z "$(lb_mine ":$HP ")" ]
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
	[ "$(lb_mine ":$HP ")" = "*:$HP -> $SUB.2:80 flags 1" ]
	[ -z "$(lb_mine ":$((HP+1)) ")" ]
	[ -e "/var/lib/cni/cni-c/portmap/$NET/a$TID:eth0" ]
	[ ! -e "/var/lib/cni/cni-c/portmap/$NET/b$TID:eth0" ]
	# the subnet stays a hairpin source while a snat container is in it ...
	nft get element inet cni_c pmsrc4 "{ $SUB.0/24 }" | grep -q "$SUB.0/24"
	# ... and goes with the last one, at GC (DEL leaves network-level elements)
	pm DEL a "$(pmconf "$RES_a" '[]')"
	nft get element inet cni_c pmsrc4 "{ $SUB.0/24 }" | grep -q "$SUB.0/24"
	printf '%s' '{"cniVersion":"1.1.0","name":"'$NET'","type":"portmap","cni.dev/valid-attachments":[]}' | CNI_COMMAND=GC CNI_PATH=$BIN $BIN/portmap
	! nft get element inet cni_c pmsrc4 "{ $SUB.0/24 }" 2>/dev/null || false
	# 127.0.0.0/8 (localhost hairpin) stays exactly while any IPv4 snat container is published on the node
	local dst lo
	dst=$(nft -j list set inet cni_c pmdst4 | jq '[.nftables[]|select(.set)|.set.elem//[]|.[]]|length')
	lo=$(nft get element inet cni_c pmsrc4 '{ 127.0.0.1 }' 2>/dev/null | grep -c "127.0.0.0/8" || true)
	echo "pmdst4 elements: $dst, 127.0.0.0/8 present: $lo"
	if [ "$dst" -gt 0 ]; then [ "$lo" = 1 ]; else [ "$lo" = 0 ]; fi
}

@test "portmap: GC keeps a hairpin source subnet while another network's snat container is in it, IPv6 too" {
	local r
	v6container
	r=$RES_v
	pm ADD v "$(pmconf "$r" '[{"hostPort":'$HP',"containerPort":80}]')"
	on_cleanup "pm DEL v '$(pmconf "$r" '[]')'"
	nft get element inet cni_c pmsrc6 "{ fd39:$O::/64 }" | grep -q "fd39:$O::/64"
	# a GC of another network (nothing of it left) must not take this one's source
	printf '%s' '{"cniVersion":"1.1.0","name":"x'$NET'","type":"portmap","cni.dev/valid-attachments":[]}' | CNI_COMMAND=GC CNI_PATH=$BIN $BIN/portmap
	nft get element inet cni_c pmsrc6 "{ fd39:$O::/64 }" | grep -q "fd39:$O::/64"
	pm DEL v "$(pmconf "$r" '[]')"
	printf '%s' '{"cniVersion":"1.1.0","name":"x'$NET'","type":"portmap","cni.dev/valid-attachments":[]}' | CNI_COMMAND=GC CNI_PATH=$BIN $BIN/portmap
	! nft get element inet cni_c pmsrc6 "{ fd39:$O::/64 }" 2>/dev/null || false
}

@test "portmap: IPv6 mapping from the host's v6 address" {
	local r
	v6container
	r=$RES_v
	ip addr add fd39:$O::1/64 dev $BR nodad
	ip link set $BR up
	ip netns exec pcv$TID socat TCP6-LISTEN:80,reuseaddr,fork SYSTEM:'read -r l; echo v6 $SOCAT_PEERADDR' &
	on_cleanup "kill $! 2>/dev/null"
	bound pcv$TID tcp 80
	run pm ADD v "$(pmconf "$r" '[{"hostPort":'$HP',"containerPort":80}]')"
	[ "$status" -eq 0 ]
	on_cleanup "pm DEL v '$(pmconf "$r" '[]')'"
	sleep 0.3
	run socat -T3 - "TCP6:[fd39:$O::1]:$HP,connect-timeout=2"
	[ "$status" -eq 0 ]
	[[ "$output" == "v6 "* ]]
	# the host's own connection went to the container directly (socklb.h)
	[ "$(lb_mine ":$HP ")" = "[*]:$HP -> [fd39:$O::2]:80 flags 0" ]
	[ "$(ct_dst fd39:$O::2 6)" = "fd39:$O::2:80" ]
	run peer fd39:$O::1 $HP -
	echo "$output"
	[ "$output" = "fd39:$O::1 $HP v6 [$(python3 -c 'import ipaddress,sys; print(ipaddress.ip_address(sys.argv[1]).exploded)' fd39:$O::1)]" ]
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
	! nft list chain inet cni_c pm_dnat | grep -q "$NET" || false
	! nft list map inet cni_c pm4_$NET 2>/dev/null || false
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

# ---- protocols, keys and scale not covered above ------------------------

# elems SET: one line per element of this network: "KEY -> DATA TAG"
# (concatenations joined by " . ", DATA "-" for plain sets)
elems() {
	{ nft -j list map inet cni_c "$1" 2>/dev/null || nft -j list set inet cni_c "$1" 2>/dev/null; } | jq -r --arg n "$NET/" '
		def v: if type == "object" and .concat then .concat | map(tostring) | join(" . ") else tostring end;
		.nftables[] | (.set // .map) | select(.) | .elem // [] | .[] |
		(if type == "array" then . else [., null] end) as [$k, $d] |
		select(($k.elem.comment // "") | startswith($n)) |
		"\($k.elem.val | v) -> \(if $d == null then "-" else ($d | v) end) \($k.elem.comment)"'
}

sctp_kernel() { python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132)' 2>/dev/null; }

@test "portmap: SCTP traffic through a published port (skipped when the kernel has no SCTP)" {
	sctp_kernel || skip "the running kernel has no SCTP (socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP) fails, no sctp module): traffic impossible here; the element test below still runs"
	container a
	ip netns exec pca$TID socat SCTP-LISTEN:80,reuseaddr,fork SYSTEM:'read -r l; echo a $SOCAT_PEERADDR' &
	on_cleanup "kill $! 2>/dev/null"
	sleep 0.3
	run pm ADD a "$(pmconf "$RES_a" '[{"hostPort":'$HP',"containerPort":80,"protocol":"sctp"}]')"
	[ "$status" -eq 0 ]
	on_cleanup "pm DEL a '$(pmconf "$RES_a" '[]')'"
	sleep 0.2
	[ "$(socat -T3 - SCTP:$SUB.1:$HP </dev/null)" = "a $SUB.1" ]
}

@test "portmap: SCTP mapping: element installed, CHECK passes, DEL releases it (no traffic test: no kernel SCTP here)" {
	container a
	local conf
	conf=$(pmconf "$RES_a" '[{"hostPort":'$HP',"containerPort":80,"protocol":"sctp"},{"hostPort":'$HP',"containerPort":80,"protocol":"tcp"}]')
	run pm ADD a "$conf"
	[ "$status" -eq 0 ]
	on_cleanup "pm DEL a '$conf'"
	run elems pm4
	[[ "$output" == *"sctp . $HP -> $SUB.2 . 80 $NET/a$TID/eth0"* ]]
	[[ "$output" == *"tcp . $HP -> $SUB.2 . 80 $NET/a$TID/eth0"* ]]
	[ "${#lines[@]}" -eq 2 ]
	run pm CHECK a "$conf"
	[ "$status" -eq 0 ]
	run pm DEL a "$conf"
	[ "$status" -eq 0 ]
	settle
	[ -z "$(elems pm4)" ]
}

@test "portmap: masqAll: an outside client is masqueraded (the container sees the host), only pmall4 holds the container" {
	container a
	outside
	serve a tcp 80
	local conf
	conf=$(pmconf "$RES_a" '[{"hostPort":'$HP',"containerPort":80}]' '{"masqAll":true}')
	run pm ADD a "$conf"
	[ "$status" -eq 0 ]
	on_cleanup "pm DEL a '$conf'"
	sleep 0.2
	# without masqAll the outside source is kept (test above); here it is the bridge address
	[ "$(ip netns exec po$TID socat -T3 - TCP:$OUT.1:$HP,connect-timeout=2)" = "a $SUB.1" ]
	[ "$(tcp 127.0.0.1:$HP)" = "a $SUB.1" ]
	[ "$(elems pmall4)" = "$SUB.2 -> - $NET/a$TID/eth0" ]
	[ -z "$(elems pmdst4)" ]
	run pm CHECK a "$conf"
	[ "$status" -eq 0 ]
	run pm DEL a "$conf"
	[ "$status" -eq 0 ]
	settle
	[ -z "$(elems pmall4)" ]
	run ip netns exec po$TID socat -T2 - TCP:$OUT.1:$HP,connect-timeout=1
	[ "$status" -ne 0 ]
}

@test "portmap: snat false: no localhost path, no route_localnet, hairpin and outside keep their source" {
	container a
	container b
	outside
	serve a tcp 80
	run pm ADD a "$(pmconf "$RES_a" '[{"hostPort":'$HP',"containerPort":80}]' '{"snat":false}')"
	[ "$status" -eq 0 ]
	on_cleanup "pm DEL a '$(pmconf "$RES_a" '[]')'"
	sleep 0.2
	[ "$(sysctl -n net.ipv4.conf.$BR.route_localnet)" = 0 ]
	[ -z "$(elems pmdst4)" ]
	[ -z "$(elems pmall4)" ]
	run tcp 127.0.0.1:$HP              # DNATed to the container but not routable without route_localnet + snat
	[ "$status" -ne 0 ]
	[ "$(tcp $OUT.1:$HP)" = "a $OUT.1" ]
	[ "$(ip netns exec po$TID socat -T3 - TCP:$OUT.1:$HP,connect-timeout=2)" = "a $OUT.2" ]
	# hairpin from another container: not masqueraded. With br_netfilter the
	# bridged reply is un-DNATed and the connection works with b's own source;
	# without it the reply bypasses conntrack and b refuses it.
	if [ "$(cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null)" = 1 ]; then
		[ "$(ip netns exec pcb$TID socat -T3 - TCP:$OUT.1:$HP,connect-timeout=2)" = "a $SUB.3" ]
	else
		run ip netns exec pcb$TID socat -T2 - TCP:$OUT.1:$HP,connect-timeout=1
		[ "$status" -ne 0 ]
	fi
}

@test "portmap: IPv6 UDP: a stale conntrack entry of the host port is flushed on ADD, the mapped one on DEL" {
	local r
	v6container
	r=$RES_v
	ip addr add fd39:$O::1/64 dev $BR nodad
	ip link set $BR up
	ip netns exec pcv$TID socat UDP6-RECVFROM:53,reuseaddr,fork SYSTEM:'read -r l; echo v6 $SOCAT_PEERADDR' &
	on_cleanup "kill $! 2>/dev/null"
	bound pcv$TID udp 53
	local sp=$(( HP + 1 )) pconf
	# before the mapping: a datagram to the host port leaves a conntrack entry without NAT
	echo x | socat -T0.3 - "UDP6:[fd39:$O::1]:$HP,sourceport=$sp" 2>/dev/null || true
	[ "$(conntrack -L -f ipv6 -p udp --dport $HP 2>/dev/null | wc -l)" -ge 1 ]
	pconf=$(pmconf "$r" '[{"hostPort":'$HP',"containerPort":53,"protocol":"udp"}]')
	run pm ADD v "$pconf"
	[ "$status" -eq 0 ]
	on_cleanup "pm DEL v '$pconf'"
	sleep 0.2
	run udp "UDP6:[fd39:$O::1]:$HP,sourceport=$sp"
	[[ "$output" == "v6 "* ]]
	# the entry now carries the DNAT to the container
	conntrack -L -f ipv6 -p udp --dport $HP 2>/dev/null | grep -q "src=fd39:$O::"
	run pm DEL v "$pconf"
	[ "$status" -eq 0 ]
	[ "$(conntrack -L -f ipv6 -p udp --dport $HP 2>/dev/null | wc -l)" -eq 0 ]
}

@test "portmap: 20 TCP ports and 3 UDP ports in one container (more than a multiport rule holds) all reachable" {
	container a
	serve a tcp 80
	serve a udp 53
	local m='[' i
	for i in $(seq 0 19); do m+='{"hostPort":'$((HP + i))',"containerPort":80},'; done
	for i in 0 1 2; do m+='{"hostPort":'$((HP + 100 + i))',"containerPort":53,"protocol":"udp"},'; done
	m="${m%,}]"
	local conf
	conf=$(pmconf "$RES_a" "$m")
	run pm ADD a "$conf"
	[ "$status" -eq 0 ]
	on_cleanup "pm DEL a '$conf'"
	sleep 0.2
	[ "$(elems pm4 | wc -l)" -eq 23 ]
	for i in $(seq 0 19); do
		[ "$(tcp $SUB.1:$((HP + i)))" = "a $SUB.1" ] || { echo "tcp port $((HP + i)) failed"; return 1; }
	done
	for i in 0 1 2; do
		[ "$(udp $SUB.1:$((HP + 100 + i)))" = "a $SUB.1" ] || { echo "udp port $((HP + 100 + i)) failed"; return 1; }
	done
	run pm CHECK a "$conf"
	[ "$status" -eq 0 ]
	run pm DEL a "$conf"
	[ "$status" -eq 0 ]
	settle
	[ -z "$(elems pm4)" ]
	run tcp $SUB.1:$((HP + 7))
	[ "$status" -ne 0 ]
}

@test "portmap: 50 containers on one network each publish a port: all reachable, DEL leaves nothing" {
	local i n=50 conf
	for i in $(seq 1 $n); do
		container c$i
		serve c$i tcp 80
		local rv="RES_c$i"
		pm ADD c$i "$(pmconf "${!rv}" '[{"hostPort":'$((HP + i))',"containerPort":80}]')" >/dev/null
		on_cleanup "pm DEL c$i '$(pmconf "${!rv}" '[]')'"
	done
	[ "$(elems pm4 | wc -l)" -eq $n ]
	[ "$(elems pmdst4 | wc -l)" -eq $n ]
	[ "$(ls /var/lib/cni/cni-c/portmap/$NET | wc -l)" -eq $n ]
	sleep 0.3
	for i in $(seq 1 $n); do
		[ "$(tcp $SUB.1:$((HP + i)))" = "c$i $SUB.1" ] || { echo "container c$i via port $((HP + i)) failed"; return 1; }
	done
	for i in $(seq 1 $n); do
		pm DEL c$i '{"cniVersion":"1.0.0","name":"'$NET'","type":"portmap"}'
	done
	settle
	[ -z "$(elems pm4)" ]
	[ -z "$(elems pmdst4)" ]
	[ -z "$(ls -A /var/lib/cni/cni-c/portmap/$NET)" ]
	run tcp $SUB.1:$((HP + 1))
	[ "$status" -ne 0 ]
}
