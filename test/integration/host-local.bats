#!/usr/bin/env bats
# host-local IPAM (reference notes 3.3, items 21-26) plus crash injection,
# parallel storms, path safety, GC, STATUS and interop with the reference
# host-local. Every test uses its own dataDir under $TMP.
load helpers

REF=/usr/lib/cni/host-local

setup() {
	setup_common
	netns_new "cnic-$TID"
	NS=/run/netns/cnic-$TID
	DATA=$TMP/data
	NET=hl-$TID
	DIR=$DATA/$NET
}
teardown() { teardown_common; }

# conf IPAM_BODY [VERSION] [EXTRA_TOP_LEVEL]: a network config for host-local
conf() {
	printf '{"cniVersion":"%s","name":"%s","type":"bridge"%s,"ipam":{"type":"host-local","dataDir":"%s",%s}}' \
		"${2:-1.0.0}" "$NET" "${3:-}" "$DATA" "$1"
}
R24='"ranges":[[{"subnet":"10.1.2.0/24"}]]'

# hl COMMAND IFNAME CONF [CID]
hl() { cni host-local "$1" "$NS" "$2" "$3" "${4:-ctr-$TID}"; }
# ref COMMAND IFNAME CONF CID: the reference plugin
ref() {
	printf '%s' "$3" | env CNI_COMMAND="$1" CNI_CONTAINERID="$4" CNI_NETNS="$NS" CNI_IFNAME="$2" \
		CNI_PATH=/usr/lib/cni CNI_ARGS="${CNI_ARGS:-}" $REF
}
# .cni-c holds nothing but the stamp and the spare inodes it counts, each
# neutralized (no record, no temp file, no content naming an attachment)
no_index_debris() {
	local f k=0
	for f in $(ls "$DIR/.cni-c" | grep -v '^stamp$'); do
		[[ "$f" =~ ^spare\.[0-9]+$ ]] || { echo "debris: $f"; return 1; }
		[ "$(cat "$DIR/.cni-c/$f")" = "cni-c spare" ] || { echo "spare $f: $(od -c "$DIR/.cni-c/$f")"; return 1; }
		k=$((k + 1))
	done
	grep -qx "spares $k" "$DIR/.cni-c/stamp" || { echo "stamp: $(cat "$DIR/.cni-c/stamp") vs $k spares"; return 1; }
}
ip_files() { find "$DIR" -maxdepth 1 -type f ! -name lock ! -name 'last_reserved_ip.*' -printf '%f\n' | sort; }
first_ip() { json_get "$1" '.ips[0].address'; }
# kill_add CONF CID SECONDS: an ADD that gets SIGKILLed after SECONDS (if still running)
kill_add() {
	( printf '%s' "$1" | timeout -s KILL "$3" env CNI_COMMAND=ADD CNI_CONTAINERID="$2" CNI_NETNS="$NS" \
		CNI_IFNAME=eth0 CNI_PATH="$CNI_PATH" "$BIN/host-local" >/dev/null 2>&1 ) 2>/dev/null || true
}

@test "host-local: ADD result, file layout and content, lock and last_reserved_ip" {
	run hl ADD eth0 "$(conf "$R24")"
	[ "$status" -eq 0 ]
	[ "$(json_get "$output" '.ips[0].address')" = 10.1.2.2/24 ]
	[ "$(json_get "$output" '.ips[0].gateway')" = 10.1.2.1 ]
	[ "$(json_get "$output" '.ips[0].interface')" = null ]
	[ "$(json_get "$output" '.interfaces')" = null ]
	[ "$(json_get "$output" '.cniVersion')" = 1.0.0 ]
	[ "$(printf 'ctr-%s\r\neth0' "$TID" | od -c)" = "$(od -c < "$DIR/10.1.2.2")" ]
	[ "$(cat "$DIR/last_reserved_ip.0")" = 10.1.2.2 ]
	[ -f "$DIR/lock" ]
	[ "$(ip_files)" = 10.1.2.2 ]
	run hl DEL eth0 "$(conf "$R24")"
	[ "$status" -eq 0 ]
	[ -z "$(ip_files)" ]
	[ -f "$DIR/lock" ]; [ -f "$DIR/last_reserved_ip.0" ]
}

@test "host-local: result in every version; >1 address per family refused before 0.3.0" {
	local dual='"ranges":[[{"subnet":"10.1.2.0/24"}],[{"subnet":"2001:db8::/64"}]]'
	for v in 0.1.0 0.2.0; do
		run hl ADD eth0 "$(conf "$dual" $v)" "c-$v"
		[ "$status" -eq 0 ]
		[ "$(json_get "$output" '.ip4.ip')" != null ]
		[ "$(json_get "$output" '.ip6.ip')" != null ]
		[ "$(json_get "$output" '.ips')" = null ]
	done
	for v in 0.3.0 0.3.1 0.4.0; do
		run hl ADD eth0 "$(conf "$dual" $v)" "c-$v"
		[ "$status" -eq 0 ]
		[ "$(json_get "$output" '[.ips[].version]|join(",")')" = 4,6 ]
	done
	for v in 1.0.0 1.1.0; do
		run hl ADD eth0 "$(conf "$dual" $v)" "c-$v"
		[ "$status" -eq 0 ]
		[ "$(json_get "$output" '.ips[0].version')" = null ]
		[ "$(json_get "$output" '.ips|length')" = 2 ]
	done
	run hl ADD eth0 "$(conf '"ranges":[[{"subnet":"2001:db8::/64"}],[{"subnet":"2001:db9::/64"}]]' 0.2.0)" c-x
	[ "$status" -eq 1 ]
	[[ "$(json_get "$output" .msg)" == *"CNI version 0.2.0 does not support more than 1 address per family"* ]]
}

@test "host-local: round robin, freed address not reused at once, wrap-around, exhaustion" {
	local c
	c=$(conf '"ranges":[[{"subnet":"10.1.2.0/29"}]]')
	run hl ADD eth0 "$c" a; [ "$(first_ip "$output")" = 10.1.2.2/29 ]
	run hl ADD eth0 "$c" b; [ "$(first_ip "$output")" = 10.1.2.3/29 ]
	run hl DEL eth0 "$c" a; [ "$status" -eq 0 ]
	run hl ADD eth0 "$c" d; [ "$(first_ip "$output")" = 10.1.2.4/29 ]
	run hl ADD eth0 "$c" e; [ "$(first_ip "$output")" = 10.1.2.5/29 ]
	run hl ADD eth0 "$c" f; [ "$(first_ip "$output")" = 10.1.2.6/29 ]
	# wraps to the freed .2
	run hl ADD eth0 "$c" g; [ "$(first_ip "$output")" = 10.1.2.2/29 ]
	run hl ADD eth0 "$c" h
	[ "$status" -eq 1 ]
	[ "$(json_get "$output" .code)" = 104 ]
	[ "$(json_get "$output" .msg)" = "failed to allocate for range 0: no IP addresses available in range set: 10.1.2.1-10.1.2.6" ]
	[ "$(ip_files | wc -l)" = 5 ]
}

@test "host-local: rangeStart, rangeEnd, custom gateway never allocated" {
	local c
	c=$(conf '"ranges":[[{"subnet":"10.1.2.0/24","rangeStart":"10.1.2.10","rangeEnd":"10.1.2.12","gateway":"10.1.2.11"}]]')
	run hl ADD eth0 "$c" a
	[ "$(first_ip "$output")" = 10.1.2.10/24 ]
	[ "$(json_get "$output" '.ips[0].gateway')" = 10.1.2.11 ]
	run hl ADD eth0 "$c" b
	[ "$(first_ip "$output")" = 10.1.2.12/24 ]
	run hl ADD eth0 "$c" c
	[ "$status" -eq 1 ]
	[[ "$(json_get "$output" .msg)" == *"no IP addresses available in range set: 10.1.2.10-10.1.2.12"* ]]
	[ ! -e "$DIR/10.1.2.11" ]
}

@test "host-local: requested IP via CNI_ARGS, args.cni.ips, runtimeConfig.ips; gateway, out of range, taken" {
	CNI_ARGS="IP=10.1.2.50" run hl ADD eth0 "$(conf "$R24")" a
	[ "$status" -eq 0 ]
	[ "$(first_ip "$output")" = 10.1.2.50/24 ]
	[ "$(cat "$DIR/last_reserved_ip.0")" = 10.1.2.50 ]
	run hl ADD eth0 "$(conf "$R24" 1.0.0 ',"args":{"cni":{"ips":["10.1.2.60/24"]}}')" b
	[ "$(first_ip "$output")" = 10.1.2.60/24 ]
	run hl ADD eth0 "$(conf "$R24" 1.0.0 ',"runtimeConfig":{"ips":["10.1.2.70"]}')" c
	[ "$(first_ip "$output")" = 10.1.2.70/24 ]
	run hl ADD eth0 "$(conf "$R24" 1.0.0 ',"runtimeConfig":{"ips":["10.1.2.1"]}')" d
	[ "$status" -eq 1 ]
	[ "$(json_get "$output" .msg)" = "failed to allocate for range 0: requested ip 10.1.2.1 is subnet's gateway" ]
	run hl ADD eth0 "$(conf "$R24" 1.0.0 ',"runtimeConfig":{"ips":["10.9.9.9"]}')" d
	[ "$status" -eq 1 ]
	[ "$(json_get "$output" .msg)" = "failed to allocate all requested IPs: 10.9.9.9" ]
	run hl ADD eth0 "$(conf "$R24" 1.0.0 ',"runtimeConfig":{"ips":["10.1.2.50"]}')" d
	[ "$status" -eq 1 ]
	[ "$(json_get "$output" .msg)" = "failed to allocate for range 0: requested IP address 10.1.2.50 is not available in range set 10.1.2.1-10.1.2.254" ]
	[ "$(ip_files | tr '\n' ' ')" = "10.1.2.50 10.1.2.60 10.1.2.70 " ]
}

@test "host-local: partial failure releases what this ADD took, and only that" {
	local c
	c=$(conf '"ranges":[[{"subnet":"10.1.2.0/24"}],[{"subnet":"2001:db8::/64"}]]' 1.0.0 ',"runtimeConfig":{"ips":["2001:db8::9"]}')
	run hl ADD eth0 "$c" a
	[ "$status" -eq 0 ]
	run hl ADD eth0 "$c" b
	[ "$status" -eq 1 ]
	[[ "$(json_get "$output" .msg)" == "failed to allocate for range 1: requested IP address 2001:db8::9 is not available"* ]]
	[ "$(ip_files | tr '\n' ' ')" = "10.1.2.2 2001:db8::9 " ]
	# b's DEL afterwards touches nothing of a
	run hl DEL eth0 "$c" b
	[ "$(ip_files | tr '\n' ' ')" = "10.1.2.2 2001:db8::9 " ]
}

@test "host-local: dual stack, multi-subnet range set, ipRanges prepended, routes and resolvConf" {
	printf 'nameserver 10.0.0.53\nsearch a.example b.example\noptions ndots:2\ndomain x.example\n' > "$TMP/resolv.conf"
	local c
	c=$(conf '"ranges":[[{"subnet":"10.1.2.0/30"},{"subnet":"10.1.3.0/30"}],[{"subnet":"2001:db8::/64"}]],"routes":[{"dst":"0.0.0.0/0"},{"dst":"::/0","gw":"2001:db8::1"}],"resolvConf":"'"$TMP"'/resolv.conf"' 1.0.0 \
		',"runtimeConfig":{"ipRanges":[[{"subnet":"192.168.77.0/24"}]]}')
	run hl ADD eth0 "$c" a
	[ "$status" -eq 0 ]
	[ "$(json_get "$output" '[.ips[].address]|join(",")')" = "192.168.77.2/24,10.1.2.2/30,2001:db8::2/64" ]
	[ "$(json_get "$output" '[.routes[].dst]|join(",")')" = "0.0.0.0/0,::/0" ]
	[ "$(json_get "$output" '.routes[1].gw')" = 2001:db8::1 ]
	[ "$(json_get "$output" '.dns.nameservers[0]')" = 10.0.0.53 ]
	[ "$(json_get "$output" '.dns.search|join(",")')" = a.example,b.example ]
	[ "$(json_get "$output" '.dns.domain')" = x.example ]
	[ "$(json_get "$output" '.dns.options[0]')" = ndots:2 ]
	# /30 holds one address (.2; .1 is the gateway): the next ADD moves on to 10.1.3.0/30
	run hl ADD eth0 "$c" b
	[ "$(json_get "$output" '.ips[1].address')" = 10.1.3.2/30 ]
	[ -f "$DIR/last_reserved_ip.2" ]
}

@test "host-local: configuration errors carry the reference's texts" {
	check_err() {
		run hl ADD eth0 "$(conf "$1")"
		[ "$status" -eq 1 ]
		[ "$(json_get "$output" .code)" = 7 ]
		[[ "$(json_get "$output" .msg)" == *"$2"* ]] || { echo "got: $output"; return 1; }
	}
	check_err '"ranges":[[{"subnet":"10.1.2.0/31"}]]' "invalid range set 0: Network 10.1.2.0/31 too small to allocate from"
	check_err '"ranges":[[{"subnet":"10.1.2.3/24"}]]' "Network has host bits set. For a subnet mask of length 24 the network address is 10.1.2.0"
	check_err '"ranges":[[{"subnet":"10.1.2.0/24"},{"subnet":"2001:db8::/64"}]]' "mixed address families"
	check_err '"ranges":[[{"subnet":"10.1.0.0/16"},{"subnet":"10.1.2.0/24"}]]' "overlap"
	check_err '"ranges":[[{"subnet":"10.1.2.0/24"}],[{"subnet":"10.1.2.0/24"}]]' "range set 0 overlaps with 1"
	check_err '"ranges":[[{"subnet":"10.1.2.0/24","rangeStart":"10.9.0.1"}]]' "RangeStart 10.9.0.1 not in network 10.1.2.0/24"
	check_err '"routes":[]' "no IP ranges specified"
	run hl ADD eth0 '{"cniVersion":"1.0.0","name":"x","type":"bridge"}'
	[ "$(json_get "$output" .msg)" = "IPAM config missing 'ipam' key" ]
	[ ! -d "$DIR" ]
}

@test "host-local: duplicate ADD refused, other ifname allowed, DEL per ifname, legacy file released" {
	local c
	c=$(conf "$R24")
	run hl ADD eth0 "$c" a; [ "$status" -eq 0 ]
	run hl ADD eth0 "$c" a
	[ "$status" -eq 1 ]
	[ "$(json_get "$output" .code)" = 106 ]
	[ "$(json_get "$output" .msg)" = "failed to allocate for range 0: 10.1.2.2 has been allocated to a, duplicate allocation is not allowed" ]
	run hl ADD eth1 "$c" a; [ "$(first_ip "$output")" = 10.1.2.3/24 ]
	run hl DEL eth1 "$c" a; [ "$status" -eq 0 ]
	[ "$(ip_files)" = 10.1.2.2 ]
	# a legacy file holding only the container id
	printf 'old' > "$DIR/10.1.2.99"
	run hl ADD eth0 "$c" old
	[[ "$(json_get "$output" .msg)" == *"10.1.2.99 has been allocated to old"* ]]
	run hl DEL eth0 "$c" old; [ "$status" -eq 0 ]
	[ ! -e "$DIR/10.1.2.99" ]
	# DEL twice and DEL of an unknown id succeed
	run hl DEL eth0 "$c" old; [ "$status" -eq 0 ]
	run hl DEL eth0 "$c" never; [ "$status" -eq 0 ]
	[ "$(ip_files)" = 10.1.2.2 ]
}

@test "host-local: CHECK finds the reservation, compares it with prevResult, fails after removal" {
	local c v=1.0.0
	c=$(conf "$R24")
	run hl ADD eth0 "$c" a
	local res=$output
	local withprev
	withprev=$(printf '%s' "$c" | jq -c --argjson p "$res" '.prevResult=$p')
	run hl CHECK eth0 "$withprev" a
	[ "$status" -eq 0 ]
	run hl CHECK eth0 "$c" a
	[ "$status" -eq 0 ]
	# prevResult naming another address of our range
	run hl CHECK eth0 "$(printf '%s' "$withprev" | jq -c '.prevResult.ips[0].address="10.1.2.77/24"')" a
	[ "$status" -eq 1 ]
	[ "$(json_get "$output" .code)" = 107 ]
	[[ "$(json_get "$output" .msg)" == *"10.1.2.77"* ]]
	rm "$DIR/10.1.2.2"
	run hl CHECK eth0 "$withprev" a
	[ "$status" -eq 1 ]
	[ "$(json_get "$output" .msg)" = "host-local: Failed to find address added by container a" ]
}

@test "host-local: unknown CNI_ARGS keys are refused unless IgnoreUnknown" {
	CNI_ARGS="FOO=1" run hl ADD eth0 "$(conf "$R24")"
	[ "$status" -eq 1 ]
	[ "$(json_get "$output" .code)" = 4 ]
	[[ "$(json_get "$output" .msg)" == *FOO* ]]
	CNI_ARGS="IgnoreUnknown=1;FOO=1;IP=10.1.2.9" run hl ADD eth0 "$(conf "$R24")"
	[ "$status" -eq 0 ]
	[ "$(first_ip "$output")" = 10.1.2.9/24 ]
}

@test "host-local: 64 parallel ADDs get 64 distinct addresses" {
	local c
	c=$(conf "$R24")
	for i in $(seq 64); do
		hl ADD eth0 "$c" "p$i" > "$TMP/out.$i" &
	done
	wait
	for i in $(seq 64); do first_ip "$(cat "$TMP/out.$i")"; done | sort > "$TMP/ips"
	[ "$(wc -l < "$TMP/ips")" = 64 ]
	[ "$(sort -u "$TMP/ips" | wc -l)" = 64 ]
	! grep -q null "$TMP/ips" || false
	[ "$(ip_files | wc -l)" = 64 ]
	# every file is complete and names its own container
	for f in $(ip_files); do [[ "$(cat "$DIR/$f")" == p*$'\r\n'eth0 ]]; done
}

@test "host-local: a parallel ADD/DEL storm leaves no orphan and no double allocation" {
	local c
	c=$(conf '"ranges":[[{"subnet":"10.1.2.0/26"}]]')
	for i in $(seq 40); do
		( for r in 1 2 3; do hl ADD eth0 "$c" "s$i" >/dev/null; hl DEL eth0 "$c" "s$i"; done
		  if [ $((i % 2)) = 0 ]; then hl ADD eth0 "$c" "s$i" > "$TMP/keep.$i"; fi ) &
	done
	wait
	[ "$(ip_files | wc -l)" = 20 ]
	# each kept container holds exactly the address its last ADD reported
	for i in $(seq 2 2 40); do
		local ip
		ip=$(first_ip "$(cat "$TMP/keep.$i")")
		[ "$(cat "$DIR/${ip%/*}")" = "s$i"$'\r\n'eth0 ]
	done
	for i in $(seq 2 2 40); do hl DEL eth0 "$c" "s$i"; done
	[ -z "$(ip_files)" ]
	no_index_debris
}

@test "host-local: SIGKILL at random points during ADD leaves no partial file, no duplicate, no orphan" {
	local c n=150 i
	c=$(conf '"ranges":[[{"subnet":"10.1.0.0/16"}]]')
	for i in $(seq $n); do
		kill_add "$c" "k$i" "0.00$((RANDOM % 6 + 1))"
	done
	local killed=0 ok=0
	for f in $(ip_files); do
		# complete content, never empty or cut
		[[ "$(cat "$DIR/$f")" =~ ^k[0-9]+$'\r\n'eth0$ ]] || { echo "bad file $f: $(od -c "$DIR/$f")"; return 1; }
	done
	# no container holds two addresses
	[ -z "$(for f in $(ip_files); do head -1 "$DIR/$f" | tr -d '\r'; done | sort | uniq -d)" ]
	[ "$(for f in $(ip_files); do head -1 "$DIR/$f"; done | wc -l)" = "$(ip_files | wc -l)" ]
	ok=$(ip_files | wc -l)
	echo "# $ok of $n ADDs completed before the kill" >&3
	# a retried ADD of a container whose ADD got through is refused as duplicate
	for f in $(ip_files | head -3); do
		local cid
		cid=$(head -1 "$DIR/$f" | tr -d '\r')
		run hl ADD eth0 "$c" "$cid"
		[ "$(json_get "$output" .code)" = 106 ]
	done
	# the runtime's DELs release everything
	for i in $(seq $n); do hl DEL eth0 "$c" "k$i" || return 1; done
	[ -z "$(ip_files)" ]
	no_index_debris
}

@test "host-local: SIGKILL during ADD, then GC with an empty list releases everything" {
	local c i
	c=$(conf '"ranges":[[{"subnet":"10.1.0.0/16"}]]' 1.1.0)
	for i in $(seq 60); do
		kill_add "$c" "g$i" "0.00$((RANDOM % 5 + 1))"
	done
	run cni host-local GC "" "" "$(printf '%s' "$c" | jq -c '.["cni.dev/valid-attachments"]=[]')"
	[ "$status" -eq 0 ]
	[ -z "$(ip_files)" ]
	[ -f "$DIR/lock" ]
}

@test "host-local: GC keeps valid attachments, honours the legacy key, ignores a call without a list" {
	local c
	c=$(conf "$R24" 1.1.0)
	hl ADD eth0 "$c" a; hl ADD eth1 "$c" a; hl ADD eth0 "$c" b
	printf 'legacy' > "$DIR/10.1.2.100"
	printf '' > "$DIR/10.1.2.101"
	# no key at all: nothing is collected
	run cni host-local GC "" "" "$c"
	[ "$status" -eq 0 ]
	[ "$(ip_files | wc -l)" = 5 ]
	run cni host-local GC "" "" "$(printf '%s' "$c" | jq -c '.["cni.dev/valid-attachments"]=[{"containerID":"a","ifname":"eth0"},{"containerID":"legacy","ifname":"eth0"}]')"
	[ "$status" -eq 0 ]
	[ "$(ip_files | tr '\n' ' ')" = "10.1.2.100 10.1.2.2 " ]
	run cni host-local GC "" "" "$(printf '%s' "$c" | jq -c '.["cni.dev/attachments"]=[]')"
	[ "$status" -eq 0 ]
	[ -z "$(ip_files)" ]
	[ -f "$DIR/lock" ]; [ -f "$DIR/last_reserved_ip.0" ]
	# the store still works afterwards
	run hl ADD eth0 "$c" a
	[ "$status" -eq 0 ]
}

@test "host-local: STATUS ok, 50 when a range set is full, 50 when dataDir is not writable" {
	local c
	c=$(conf '"ranges":[[{"subnet":"10.1.2.0/24"}],[{"subnet":"10.9.0.0/30","rangeStart":"10.9.0.2","rangeEnd":"10.9.0.2"}]]' 1.1.0)
	run cni host-local STATUS "" "" "$c"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	hl ADD eth0 "$c" a
	run cni host-local STATUS "" "" "$c"
	[ "$status" -eq 1 ]
	[ "$(json_get "$output" .code)" = 50 ]
	[[ "$(json_get "$output" .msg)" == *"range set 1: 10.9.0.2-10.9.0.2"* ]]
	# a dataDir that cannot be created
	: > "$TMP/afile"
	run cni host-local STATUS "" "" "$(printf '%s' "$c" | jq -c --arg d "$TMP/afile/sub" '.ipam.dataDir=$d')"
	[ "$status" -eq 1 ]
	[ "$(json_get "$output" .code)" = 50 ]
	[[ "$(json_get "$output" .msg)" == *"not writable"* ]]
	# a read-only file system
	mkdir -p "$TMP/ro"
	mount -t tmpfs -o ro,size=1m none "$TMP/ro"
	on_cleanup "umount $TMP/ro"
	run cni host-local STATUS "" "" "$(printf '%s' "$c" | jq -c --arg d "$TMP/ro" '.ipam.dataDir=$d')"
	[ "$status" -eq 1 ]
	[ "$(json_get "$output" .code)" = 50 ]
	# STATUS needs 1.1.0
	run cni host-local STATUS "" "" "$(conf "$R24" 1.0.0)"
	[ "$(json_get "$output" .code)" = 1 ]
}

@test "host-local: names from outside never leave <dataDir>/<net>" {
	local c
	c=$(conf "$R24")
	# network name and ids with path characters are refused by the frame
	run hl ADD eth0 "$(printf '%s' "$c" | jq -c '.name="../evil"')"
	[ "$status" -eq 1 ]
	[ ! -e "$DATA/../evil" ]; [ ! -e "$TMP/evil" ]
	run hl ADD "../x" "$c"
	[ "$status" -eq 1 ]
	[ "$(json_get "$output" .code)" = 4 ]
	run hl ADD eth0 "$c" "a/../../b"
	[ "$status" -eq 1 ]
	[ "$(json_get "$output" .code)" = 4 ]
	# a network directory replaced by a symlink is not followed
	mkdir -p "$DATA" "$TMP/elsewhere"
	ln -s "$TMP/elsewhere" "$DIR"
	run hl ADD eth0 "$c"
	[ "$status" -eq 1 ]
	[ "$(json_get "$output" .code)" = 105 ]
	[ -z "$(ls -A "$TMP/elsewhere")" ]
	rm "$DIR"
	# an address file planted as a symlink is neither read through nor its target removed
	mkdir -p "$DIR"
	printf 'victim\r\neth0' > "$TMP/target"
	ln -s "$TMP/target" "$DIR/10.1.2.2"
	run hl ADD eth0 "$c" victim
	[ "$status" -eq 0 ]
	[ "$(first_ip "$output")" = 10.1.2.3/24 ]
	run hl DEL eth0 "$c" victim
	[ -f "$TMP/target" ]
	[ -L "$DIR/10.1.2.2" ]
}

@test "host-local: interop with the reference plugin, both directions" {
	[ -x "$REF" ] || skip "reference host-local not installed at $REF"
	local c
	c=$(conf "$R24")
	# reference reserves, we see it (duplicate) and release it
	run ref ADD eth0 "$c" r1
	[ "$status" -eq 0 ]
	[ "$(first_ip "$output")" = 10.1.2.2/24 ]
	run hl ADD eth0 "$c" r1
	[ "$(json_get "$output" .code)" = 106 ]
	run hl ADD eth0 "$c" o1
	[ "$(first_ip "$output")" = 10.1.2.3/24 ]
	run hl DEL eth0 "$c" r1
	[ "$status" -eq 0 ]
	[ ! -e "$DIR/10.1.2.2" ]
	# we reserve, the reference sees it (duplicate), continues round robin and releases ours
	run ref ADD eth0 "$c" o1
	[ "$status" -eq 1 ]
	[[ "$output" == *"duplicate allocation is not allowed"* ]]
	run ref ADD eth0 "$c" r2
	[ "$(first_ip "$output")" = 10.1.2.4/24 ]
	run ref CHECK eth0 "$c" o1
	[ "$status" -eq 0 ]
	run ref DEL eth0 "$c" o1
	[ "$status" -eq 0 ]
	[ ! -e "$DIR/10.1.2.3" ]
	# our index notices what the reference did behind its back
	run hl ADD eth0 "$c" o1
	[ "$(first_ip "$output")" = 10.1.2.5/24 ]
	run hl CHECK eth0 "$c" r2
	[ "$status" -eq 0 ]
	run hl DEL eth0 "$c" r2
	[ ! -e "$DIR/10.1.2.4" ]
	run ref DEL eth0 "$c" o1
	[ -z "$(ip_files)" ]
	# our bookkeeping files (index records naming z1) never look like a reservation to the reference
	run hl ADD eth0 "$c" z1
	rm "$DIR/$(ip_files | head -1)"
	[ -f "$DIR/.cni-c/z1:eth0" ]
	run ref CHECK eth0 "$c" z1
	[ "$status" -eq 1 ]
	run ref DEL eth0 "$c" z1
	[ "$status" -eq 0 ]
}

@test "host-local: ours and the reference in parallel share the lock: 64 distinct addresses" {
	[ -x "$REF" ] || skip "reference host-local not installed at $REF"
	local c i
	c=$(conf "$R24")
	for i in $(seq 32); do
		hl ADD eth0 "$c" "o$i" > "$TMP/o.$i" &
		ref ADD eth0 "$c" "r$i" > "$TMP/r.$i" &
	done
	wait
	for i in $(seq 32); do first_ip "$(cat "$TMP/o.$i")"; first_ip "$(cat "$TMP/r.$i")"; done | sort > "$TMP/ips"
	! grep -q null "$TMP/ips" || false
	[ "$(sort -u "$TMP/ips" | wc -l)" = 64 ]
	[ "$(ip_files | wc -l)" = 64 ]
	# each releases the other's reservations
	for i in $(seq 32); do hl DEL eth0 "$c" "r$i"; ref DEL eth0 "$c" "o$i"; done
	[ -z "$(ip_files)" ]
}

@test "host-local: same result JSON as the reference plugin" {
	[ -x "$REF" ] || skip "reference host-local not installed at $REF"
	printf 'nameserver 10.0.0.53\nsearch a.example\n' > "$TMP/resolv.conf"
	local body='"ranges":[[{"subnet":"10.1.2.0/24","gateway":"10.1.2.254"}],[{"subnet":"2001:db8::/64"}]],"routes":[{"dst":"0.0.0.0/0"},{"dst":"10.0.0.0/8","gw":"10.1.2.254"}],"resolvConf":"'"$TMP"'/resolv.conf"'
	local v ours theirs body2 c
	for v in 0.2.0 0.4.0 1.0.0; do
		[ $v = 0.2.0 ] && body2='"ranges":[[{"subnet":"10.1.2.0/24"}]]' || body2=$body
		c=$(conf "$body2" $v)
		ours=$(hl ADD eth0 "$c" "c$v" | jq -S .)
		theirs=$(ref ADD eth0 "${c//$DATA/$TMP/refdata}" "c$v" | jq -S .)
		[ "$ours" = "$theirs" ] || { diff <(echo "$ours") <(echo "$theirs"); return 1; }
	done
}
