#!/usr/bin/env bats
# podman end to end: Debian's podman (4.3, CNI network backend) runs a
# container on OUR bridge + host-local + portmap + loopback (plugin dir bin/
# only), publishes a port, and removes everything on rm.
#
# Isolation: podman runs inside a private mount namespace (a holder process
# made with unshare) where /run, /dev/shm and /var/lib/cni are fresh tmpfs /
# temp dirs, so its netns files, runc state, SHM locks and libcni result
# cache (podman 4.3 has no setting for /var/lib/cni) never reach the
# machine; storage, tmp, events and network configs live in $PW (set by
# CONTAINERS_CONF / CONTAINERS_STORAGE_CONF), our plugins' records in
# $PW/state (CNI_C_STATE_DIR, passed through by libcni). The image is built
# offline from the busybox binary: `podman import` of a tarball.
load helpers

setup_file() {
	[ "$(id -u)" = 0 ] || return 0
	export PW
	PW=$(mktemp -d /tmp/cnicpm.XXXXXX) # short: conmon's socket paths are length-limited
	local missing="" p
	for p in podman runc; do command -v $p >/dev/null || missing="$missing $p"; done
	[ -x /bin/busybox ] || missing="$missing busybox-static"
	if [ -n "$missing" ]; then
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y -qq --no-install-recommends $missing > "$PW/apt.log" 2>&1 ||
			{ apt-get update -qq >> "$PW/apt.log" 2>&1 &&
				apt-get install -y -qq --no-install-recommends $missing >> "$PW/apt.log" 2>&1; } ||
			{ echo "cannot install$missing from Debian's archive: $(tail -1 "$PW/apt.log")" > "$PW/skip"; return 0; }
	fi

	# the holder of the private mount namespace
	unshare --mount --propagation private sleep infinity &
	echo $! > "$PW/holder"
	local h=$!
	local i
	for i in $(seq 50); do [ "$(readlink /proc/$h/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ] && break; sleep 0.02; done
	mkdir -p "$PW/varlibcni" "$PW/net.d" "$PW/root" "$PW/runroot" "$PW/tmp" "$PW/ipam" "$PW/state" "$PW/rootfs"
	if [ -d /var/lib/cni ]; then
		nsenter -t $h -m mount --bind "$PW/varlibcni" /var/lib/cni
	else # never create it on the machine: a tmpfs over /var/lib (podman's paths are all in $PW)
		nsenter -t $h -m sh -c 'mount -t tmpfs tmpfs /var/lib && mkdir /var/lib/cni'
	fi
	nsenter -t $h -m mount -t tmpfs tmpfs /run
	nsenter -t $h -m mount -t tmpfs tmpfs /dev/shm

	export PNET=cnicpm$(new_id)
	local o=$(( 0x$(new_id | cut -c1-2) % 250 + 1 ))
	export PSUB=10.237.$o
	export PBR=cpb${PNET#cnicpm}
	cat > "$PW/containers.conf" <<-EOF
	[containers]
	# this VM's root lacks CAP_SYS_RESOURCE: podman's default rlimits (nofile,
	# nproc 1048576) would make runc fail with "error setting rlimit"
	default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
	[engine]
	cgroup_manager = "cgroupfs"
	events_logger = "file"
	events_logfile_path = "$PW/tmp/events.log"
	runtime = "runc"
	tmp_dir = "$PW/tmp"
	volume_path = "$PW/root/volumes"
	image_copy_tmp_dir = "$PW/tmp"
	# conmon runs "podman container cleanup" (the network teardown when a
	# container stops) with only these variables: without them it would use
	# the default plugin dirs (the reference plugins) and the default state dir
	conmon_env_vars = ["PATH=$PATH", "CONTAINERS_CONF=$PW/containers.conf", "CONTAINERS_STORAGE_CONF=$PW/storage.conf", "CNI_C_STATE_DIR=$PW/state", "TMPDIR=$PW/tmp"]
	[network]
	network_backend = "cni"
	cni_plugin_dirs = ["$BIN"]
	network_config_dir = "$PW/net.d"
	default_network = "$PNET"
	EOF
	cat > "$PW/storage.conf" <<-EOF
	[storage]
	driver = "vfs"
	graphroot = "$PW/root"
	runroot = "$PW/runroot"
	EOF
	cat > "$PW/net.d/$PNET.conflist" <<-EOF
	{"cniVersion":"1.0.0","name":"$PNET","plugins":[
	 {"type":"bridge","bridge":"$PBR","isGateway":true,"ipMasq":true,"hairpinMode":true,
	  "ipam":{"type":"host-local","dataDir":"$PW/ipam","ranges":[[{"subnet":"$PSUB.0/24"}]],"routes":[{"dst":"0.0.0.0/0"}]}},
	 {"type":"portmap","capabilities":{"portMappings":true}},
	 {"type":"loopback"}]}
	EOF

	# image: busybox (static, or with the libraries it links) + a web root
	local r=$PW/rootfs a lib
	mkdir -p $r/bin $r/www $r/etc $r/proc $r/sys $r/dev $r/tmp
	cp /bin/busybox $r/bin/
	for lib in $(ldd /bin/busybox 2>/dev/null | grep -o '/[^ ]*'); do
		mkdir -p "$r$(dirname "$lib")" && cp -L "$lib" "$r$lib"
	done
	for a in sh true httpd ip cat sleep hostname wget; do ln -s busybox $r/bin/$a; done
	echo "hello from cni-c" > $r/www/index.html
	tar -C $r -cf "$PW/image.tar" .
	if ! podman_ import "$PW/image.tar" localhost/cnic-busybox > "$PW/import.log" 2>&1; then
		echo "podman import failed: $(tail -1 "$PW/import.log")" > "$PW/skip"
		return 0
	fi
	# can this machine run a container at all (no CNI involved)?
	if ! podman_ run --rm --network none localhost/cnic-busybox true > "$PW/probe.log" 2>&1; then
		echo "podman cannot start a container here (--network none, so not a CNI problem): $(tail -1 "$PW/probe.log")" > "$PW/skip"
	fi
}

teardown_file() {
	[ -n "${PW:-}" ] && [ -d "$PW" ] || return 0
	if [ -f "$PW/holder" ]; then
		podman_ rm -a -f -t 0 >/dev/null 2>&1
		kill "$(cat "$PW/holder")" 2>/dev/null
	fi
	if [ -n "${PNET:-}" ]; then
		# network-level objects: masquerade sets/rule of the network, the hairpin source subnet
		local p
		for p in bridge portmap; do
			jq -c --arg t $p '.plugins[] | select(.type == $t) | . + {cniVersion: "1.1.0", name: $n, "cni.dev/valid-attachments": []}' \
				--arg n "$PNET" "$PW/net.d/$PNET.conflist" | CNI_COMMAND=GC CNI_C_STATE_DIR=$PW/state CNI_PATH=$BIN $BIN/$p >/dev/null 2>&1
		done
		nft delete element inet cni_c pmsrc4 "{ $PSUB.0/24 }" 2>/dev/null
		ip link del "$PBR" 2>/dev/null
	fi
	rm -rf "$PW"
}

# podman_ ARGS: podman inside the private mount namespace with our configuration
podman_() {
	local h
	h=$(cat "$PW/holder")
	nsenter -t "$h" -m env CONTAINERS_CONF="$PW/containers.conf" CONTAINERS_STORAGE_CONF="$PW/storage.conf" \
		CNI_C_STATE_DIR="$PW/state" TMPDIR="$PW/tmp" podman "$@"
}

setup() {
	require_root
	[ ! -f "$PW/skip" ] || skip "$(cat "$PW/skip")"
	setup_common
	HP=$(( RANDOM % 15000 + 20000 ))
	C=cnic$TID
	on_cleanup "podman_ rm -f -t 0 $C"
}
teardown() { teardown_common; }

# nothing of the network left: bridge ports, reservations, records, nft elements, libcni cache
nothing_left() {
	local l
	l=$(ip -o link show master "$PBR" 2>/dev/null | awk -F': ' '{print $2}')
	[ -z "$l" ] || { echo "ports left on $PBR: $l"; return 1; }
	l=$(ls "$PW/ipam/$PNET" 2>/dev/null | grep -E '^[0-9a-f.:]+$' || true)
	[ -z "$l" ] || { echo "reservations left: $l"; return 1; }
	l=$(find "$PW/state" -path "*/$PNET/*" -type f)
	[ -z "$l" ] || { echo "records left: $l"; return 1; }
	l=$(nft -j list table inet cni_c | jq -r --arg n "$PNET/" '.nftables[] | (.set // .map) | select(.) |
		.elem // [] | .[] | (if type == "array" then .[0] else . end) | .elem.comment? // empty | select(startswith($n))')
	[ -z "$l" ] || { echo "nft elements left: $l"; return 1; }
	l=$(ls -A "$PW/varlibcni/results" 2>/dev/null || true)
	[ -z "$l" ] || { echo "libcni cache left: $l"; return 1; }
}

@test "podman: run -p on our bridge+host-local+portmap: address from our range, HTTP through the published port; rm leaves nothing" {
	run podman_ run -d --name $C -p $HP:80 localhost/cnic-busybox httpd -f -p 80 -h /www
	[ "$status" -eq 0 ]
	# address: from our host-local range, reserved in our dataDir, on eth0 in the container
	local ip
	ip=$(podman_ inspect -f "{{.NetworkSettings.Networks.$PNET.IPAddress}}" $C)
	[[ "$ip" == $PSUB.* ]]
	[ -f "$PW/ipam/$PNET/$ip" ]
	podman_ exec $C ip -4 addr show eth0 | grep -q "inet $ip/24"
	# our bridge, with the container's veth on it and the gateway address
	ip -d -j link show "$PBR" | jq -e '.[0].linkinfo.info_kind == "bridge"' >/dev/null
	[ "$(ip -o link show master "$PBR" 2>/dev/null | wc -l)" -eq 1 ]
	ip -j addr show "$PBR" | jq -e --arg a "$PSUB.1" '.[0].addr_info[] | select(.local == $a)' >/dev/null
	# the published port: an element of our map, and HTTP answers through it
	nft -j list map inet cni_c pm4 | jq -e --arg n "$PNET/" --argjson p $HP '[.nftables[] | .map? | select(.) | .elem // [] | .[] |
		select(.[0].elem.comment | startswith($n)) | select(.[0].elem.val.concat == ["tcp", $p])] | length == 1' >/dev/null
	local i
	for i in $(seq 50); do curl -s -m1 http://127.0.0.1:$HP/ >/dev/null && break; sleep 0.1; done
	[ "$(curl -sS -m3 http://127.0.0.1:$HP/)" = "hello from cni-c" ]
	[ "$(curl -sS -m3 http://$PSUB.1:$HP/)" = "hello from cni-c" ]
	# libcni's cache (in the private /var/lib/cni) holds our result
	jq -e --arg a "$ip/24" '.result.ips[0].address == $a' "$PW/varlibcni/results/$PNET-"*-eth0 >/dev/null

	run podman_ stop -t 0 $C
	[ "$status" -eq 0 ]
	run podman_ rm $C
	[ "$status" -eq 0 ]
	run nothing_left
	echo "$output"
	[ "$status" -eq 0 ]
	run curl -sS -m2 http://127.0.0.1:$HP/
	[ "$status" -ne 0 ]
}

@test "podman: a second container publishing the same host port fails with portmap's conflict, leaving nothing of its own" {
	podman_ run -d --name $C -p $HP:80 localhost/cnic-busybox httpd -f -p 80 -h /www
	on_cleanup "podman_ rm -f -t 0 ${C}b"
	run podman_ run -d --name ${C}b -p $HP:80 localhost/cnic-busybox httpd -f -p 80 -h /www
	[ "$status" -ne 0 ]
	[[ "$output" == *"port tcp 0.0.0.0:$HP is already allocated to container"* ]]
	# only the first container's veth, reservation and port remain, and it still answers
	[ "$(ip -o link show master "$PBR" 2>/dev/null | wc -l)" -eq 1 ]
	[ "$(ls "$PW/ipam/$PNET" | grep -cE '^[0-9.]+$')" -eq 1 ]
	local i
	for i in $(seq 50); do curl -s -m1 http://127.0.0.1:$HP/ >/dev/null && break; sleep 0.1; done
	[ "$(curl -sS -m3 http://127.0.0.1:$HP/)" = "hello from cni-c" ]
	podman_ rm -f -t 0 ${C}b >/dev/null 2>&1 || true
	podman_ rm -f -t 0 $C
	run nothing_left
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "podman: two containers on the network reach each other and the published port of the other (hairpin through the host)" {
	podman_ run -d --name $C -p $HP:80 localhost/cnic-busybox httpd -f -p 80 -h /www
	on_cleanup "podman_ rm -f -t 0 ${C}b"
	podman_ run -d --name ${C}b localhost/cnic-busybox sleep 600
	local ip
	ip=$(podman_ inspect -f "{{.NetworkSettings.Networks.$PNET.IPAddress}}" $C)
	local i
	for i in $(seq 50); do curl -s -m1 http://$ip:80/ >/dev/null && break; sleep 0.1; done
	# direct, container to container
	run podman_ exec ${C}b wget -q -O - http://$ip:80/
	[ "$output" = "hello from cni-c" ]
	# through the host's published port (DNAT + hairpin snat)
	run podman_ exec ${C}b wget -q -O - http://$PSUB.1:$HP/
	[ "$output" = "hello from cni-c" ]
	podman_ rm -f -t 0 ${C}b $C
	run nothing_left
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "podman: a container that exits by itself is torn down through our plugins by conmon's cleanup command" {
	podman_ run -d --name $C -p $HP:80 localhost/cnic-busybox sh -c 'httpd -p 80 -h /www; sleep 2'
	local i
	for i in $(seq 50); do curl -s -m1 http://127.0.0.1:$HP/ >/dev/null && break; sleep 0.1; done
	[ "$(curl -sS -m3 http://127.0.0.1:$HP/)" = "hello from cni-c" ]
	[ -n "$(find "$PW/state/portmap/$PNET" -type f)" ]
	# no podman stop/rm: the container exits, conmon's exit command runs the CNI DEL
	for i in $(seq 100); do [ "$(podman_ inspect -f '{{.State.Status}}' $C)" = exited ] && break; sleep 0.1; done
	[ "$(podman_ inspect -f '{{.State.Status}}' $C)" = exited ]
	for i in $(seq 50); do nothing_left >/dev/null && break; sleep 0.1; done
	run nothing_left
	echo "$output"
	[ "$status" -eq 0 ]
	podman_ rm $C
}
