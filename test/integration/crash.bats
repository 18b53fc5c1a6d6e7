#!/usr/bin/env bats
# Crashes in the middle of a chain ADD (bridge + host-local + portmap, ipMasq,
# one published port), the way a node loses them: the runtime (cnitool here)
# and every plugin process under it SIGKILLed at a random moment. Afterwards
# the runtime does what the spec asks of it, a DEL of the attachment (or, for
# attachments it forgot, a GC with the ones it still has), and nothing of the
# killed attachments may be left: no IPAM allocation, bridge port, nft
# element, state record, connect() entry or cache entry.
load helpers

setup_file() {
	export SOCKLBCTL="$BATS_FILE_TMPDIR/socklbctl"
	tool socklbctl
}

setup() {
	require_root
	setup_common
	NET="cr$TID"
	BR="crb$TID"
	O=$(( 0x${TID:0:2} % 250 + 1 ))
	SUB="10.236.$O"
	HP=$(( RANDOM % 10000 + 40000 ))
	export NETCONFPATH=$TMP/net.d CNI_CACHE_DIR=$TMP/cache CNI_C_STATE_DIR=$TMP/state CNI_PATH=$BIN
	unset CNI_ARGS CNI_IFNAME CNI_VALID_ATTACHMENTS
	mkdir -p "$NETCONFPATH"
	cat > "$NETCONFPATH/$NET.conflist" <<EOF
{"cniVersion":"1.1.0","name":"$NET","plugins":[
 {"type":"bridge","bridge":"$BR","isGateway":true,"ipMasq":true,
  "ipam":{"type":"host-local","dataDir":"$TMP/ipam","ranges":[[{"subnet":"$SUB.0/24"}]]}},
 {"type":"portmap","capabilities":{"portMappings":true}}]}
EOF
	link_cleanup "$BR"
	# network-level objects go with a GC that keeps nothing (registered first: runs last)
	on_cleanup "CNI_VALID_ATTACHMENTS='[]' $BIN/cnitool gc $NET"
}
teardown() { teardown_common; }

# add_killed I DELAY: netns crI$TID, a chain ADD publishing HP+I, SIGKILLed
# (with everything it started) after DELAY seconds if still running; prints
# the exit status of the ADD (137: killed)
add_killed() {
	local i=$1 ns=cr$1$TID st
	netns_new "$ns"
	CAP_ARGS='{"portMappings":[{"hostPort":'$((HP + i))',"containerPort":80,"protocol":"tcp"}]}' \
		setsid "$BIN/cnitool" add "$NET" "/run/netns/$ns" >/dev/null 2>&1 &
	local pid=$!
	sleep "$2"
	kill -KILL -- "-$pid" 2>/dev/null || true
	wait "$pid"
	echo $?
}

del() { "$BIN/cnitool" del "$NET" "/run/netns/cr$1$TID"; }

# what is left on the node of this network's attachments, one line per object
# (portmap's connect() entries by host port: HP ... HP+99 are this test's)
leftovers() {
	ls "$TMP/ipam/$NET" 2>/dev/null | grep -Ev '^(lock|last_reserved_ip\..*)$' | sed 's/^/ipam: /'
	ip -o link show master "$BR" 2>/dev/null | awk '{print "port: " $2}'
	nft -j list table inet cni_c 2>/dev/null | jq -r '.. | objects | select(has("comment")) | .comment' |
		grep "^$NET/" | sed 's/^/nft: /'
	find "$TMP/state" -type f ! -name '*.lock' 2>/dev/null | sed 's/^/record: /'
	"$SOCKLBCTL" list | awk -v lo="$HP" '{ p = $1; sub(/.*:/, "", p); if (p + 0 >= lo && p + 0 < lo + 100) print "socklb: " $0 }'
	find "$CNI_CACHE_DIR" -type f 2>/dev/null | sed 's/^/cache: /'
}

# rand_delay MS: a moment in [0, 0.8 MS) ms, in seconds (starting the
# background ADD and the sleep take a little of the ADD's time already)
rand_delay() { awk -v r=$RANDOM -v m="$1" 'BEGIN { printf "%.4f", r / 32768 * m * 0.8 / 1000 }'; }

# one ADD's duration, to spread the kill moments over all of it
add_ms() {
	netns_new crt$TID
	local t0 t1
	t0=$(date +%s%N)
	"$BIN/cnitool" add "$NET" /run/netns/crt$TID >/dev/null
	t1=$(date +%s%N)
	"$BIN/cnitool" del "$NET" /run/netns/crt$TID
	echo $(( (t1 - t0) / 1000000 + 1 ))
}

@test "crash: chain ADD SIGKILLed at random points, then DEL, leaves nothing behind" {
	local ms i st killed=0 done=0 partial=0
	ms=$(add_ms)
	echo "one ADD: ${ms} ms"
	[ -z "$(leftovers)" ]
	# until 12 ADDs were killed (at most 60 tries): most kills land inside
	for i in $(seq 1 60); do
		[ "$killed" -ge 12 ] && break
		st=$(add_killed "$i" "$(rand_delay "$ms")")
		if [ "$st" = 0 ]; then done=$((done + 1)); else killed=$((killed + 1)); fi
		# a kill that left part of an ADD behind: what the DEL must clean
		[ "$st" != 0 ] && [ -n "$(leftovers | grep -v '^cache: ')" ] && partial=$((partial + 1))
		run del "$i"
		echo "ADD $i: exit $st; DEL: $status $output"
		[ "$status" -eq 0 ]
		run leftovers
		[ -z "$output" ] || { echo "left after DEL $i:"; echo "$output"; false; }
		run del "$i" # DEL again: idempotent after a crash too
		[ "$status" -eq 0 ]
	done
	echo "completed $done, killed $killed (with partial state: $partial)"
	# the test only means something if kills landed inside ADDs
	[ "$killed" -ge 12 ]
	[ "$partial" -ge 3 ]
	# and the network still works
	netns_new crz$TID
	run "$BIN/cnitool" add "$NET" /run/netns/crz$TID
	[ "$status" -eq 0 ]
	[[ "$(json_get "$output" '.ips[0].address')" == "$SUB".*/24 ]]
	ip netns exec crz$TID ping -c1 -W2 "$SUB.1" >/dev/null
	del z
	[ -z "$(leftovers)" ]
}

@test "crash: attachments SIGKILLed mid-ADD and never DELeted go with a GC of the survivors" {
	local ms i st valid= keep=0 killed=0
	ms=$(add_ms)
	echo "one ADD: ${ms} ms"
	# until 6 ADDs were killed and 4 survived (most kills land inside an
	# ADD; an ADD that finished first is forgotten all the same)
	for i in $(seq 1 90); do
		[ "$killed" -ge 6 ] && [ "$keep" -ge 4 ] && break
		if [ $((i % 4)) = 0 ]; then
			[ "$keep" -ge 4 ] && continue
			# a survivor: ADD completes, stays valid
			netns_new cr$i$TID
			CAP_ARGS='{"portMappings":[{"hostPort":'$((HP + i))',"containerPort":80,"protocol":"tcp"}]}' \
				"$BIN/cnitool" add "$NET" /run/netns/cr$i$TID >/dev/null
			valid+="${valid:+,}{\"containerID\":\"$(cid_of cr$i$TID)\",\"ifname\":\"eth0\"}"
			keep=$((keep + 1))
			continue
		fi
		st=$(add_killed "$i" "$(rand_delay "$ms")")
		[ "$st" != 0 ] && killed=$((killed + 1))
		# the runtime forgot this one: its netns goes, no DEL ever comes
		ip netns del cr$i$TID
	done
	echo "survivors $keep, killed $killed"
	[ "$killed" -ge 6 ]
	CNI_VALID_ATTACHMENTS="[$valid]" run "$BIN/cnitool" gc "$NET"
	echo "$output"
	[ "$status" -eq 0 ]
	# the forgotten netns are destroyed by the kernel asynchronously (and
	# their veths with them): wait for that, bounded
	for i in $(seq 100); do
		[ "$(ip -o link show master "$BR" | wc -l)" -le "$keep" ] && break
		sleep 0.1
	done
	# exactly the survivors are left: 4 addresses, 4 ports, their elements and records
	run leftovers
	echo "$output"
	[ "$(grep -c '^ipam: ' <<<"$output")" = "$keep" ]
	[ "$(grep -c '^port: ' <<<"$output")" = "$keep" ]
	[ "$(grep -c '^record: .*/portmap/' <<<"$output")" = "$keep" ]
	[ "$(grep -c '^socklb: ' <<<"$output")" = "$keep" ]
	for i in 4 8 12 16; do
		grep -q "^socklb: .*:$((HP + i)) " <<<"$output"
		grep -q "^nft: $NET/$(cid_of cr$i$TID)/eth0" <<<"$output"
	done
	[ -z "$(grep '^nft: ' <<<"$output" | grep -v -e "$(cid_of cr4$TID)" -e "$(cid_of cr8$TID)" -e "$(cid_of cr12$TID)" -e "$(cid_of cr16$TID)")" ]
	for i in 4 8 12 16; do
		run del $i
		echo "DEL $i: $status $output"
		[ "$status" -eq 0 ]
	done
	run leftovers
	[ -z "$output" ] || { echo "left after DEL:"; echo "$output"; false; }
}

# the container id cnitool derives from a netns path (libcni's cnitool rule)
cid_of() { printf 'cnitool-%s' "$(printf '%s' "/run/netns/$1" | sha512sum | cut -c1-20)"; }

@test "crash: chain DEL SIGKILLed at random points, then DEL again, leaves nothing behind" {
	local i ns st t0 t1 ms killed=0
	# one DEL's duration
	netns_new crt$TID
	"$BIN/cnitool" add "$NET" /run/netns/crt$TID >/dev/null
	t0=$(date +%s%N)
	"$BIN/cnitool" del "$NET" /run/netns/crt$TID
	t1=$(date +%s%N)
	ms=$(( (t1 - t0) / 1000000 + 1 ))
	echo "one DEL: ${ms} ms"
	for i in $(seq 1 40); do
		[ "$killed" -ge 10 ] && break
		ns=cr$i$TID
		netns_new "$ns"
		CAP_ARGS='{"portMappings":[{"hostPort":'$((HP + i))',"containerPort":80,"protocol":"tcp"}]}' \
			"$BIN/cnitool" add "$NET" /run/netns/$ns >/dev/null
		setsid "$BIN/cnitool" del "$NET" "/run/netns/$ns" >/dev/null 2>&1 &
		local pid=$!
		sleep "$(rand_delay "$ms")"
		kill -KILL -- "-$pid" 2>/dev/null || true
		wait "$pid" && st=0 || st=$?
		[ "$st" != 0 ] && killed=$((killed + 1))
		run del "$i"
		echo "DEL $i: exit $st; DEL again: $status $output"
		[ "$status" -eq 0 ]
		run leftovers
		[ -z "$output" ] || { echo "left after DEL $i:"; echo "$output"; false; }
	done
	echo "killed $killed"
	[ "$killed" -ge 10 ]
}
