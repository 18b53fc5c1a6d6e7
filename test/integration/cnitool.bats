#!/usr/bin/env bats
# cnitool (tools/cnitool) as the runtime side: what it feeds plugins (stdin,
# env, order), its libcni-compatible result cache, gc/status/version, error
# reporting; then real chains with our loopback and the reference bridge +
# host-local from /usr/lib/cni. Caches and conflists live in $TMP only.
load helpers

setup() {
	setup_common
	netns_new "cnic-$TID"
	NS=/run/netns/cnic-$TID
	NET="net$TID"
	export NETCONFPATH=$TMP/net.d CNI_CACHE_DIR=$TMP/cache FAKE_REC=$TMP/rec
	mkdir -p "$NETCONFPATH" "$FAKE_REC" "$TMP/bin"
	make_fake_plugins
	export CNI_PATH="$TMP/bin:$BIN:/usr/lib/cni"
	unset CNI_ARGS CAP_ARGS CNI_IFNAME CNI_VALID_ATTACHMENTS
	CID=cnitool-$(printf '%s' "$NS" | sha512sum | cut -c1-20)
}
teardown() { teardown_common; }

# fake-a, fake-b, fake-c: record stdin/env of every call in $FAKE_REC
# (<seq>-<plugin>-<CMD>.stdin/.env, and a line "<plugin> <CMD>" in log);
# ADD appends an interface named after the plugin to prevResult (or starts
# a result); $FAKE_REC/fail-<plugin>-<CMD> makes that call fail (code 123).
make_fake_plugins() {
	cat > "$TMP/bin/fake-a" <<'SH'
#!/bin/bash
n=$(basename "$0")
in=$(cat)
seq=$(( $(cat "$FAKE_REC/seq" 2>/dev/null || echo 0) + 1 )); echo $seq > "$FAKE_REC/seq"
printf '%s' "$in" > "$FAKE_REC/$seq-$n-$CNI_COMMAND.stdin"
env | grep '^CNI_' | sort > "$FAKE_REC/$seq-$n-$CNI_COMMAND.env"
echo "$n $CNI_COMMAND" >> "$FAKE_REC/log"
if [ -e "$FAKE_REC/fail-$n-$CNI_COMMAND" ]; then
	printf '{"code":123,"msg":"boom from %s","details":"d-%s"}' "$n" "$n"; exit 1
fi
case "$CNI_COMMAND" in
ADD) printf '%s' "$in" | jq --arg n "$n" --arg ns "$CNI_NETNS" '
	if .prevResult then .prevResult | .interfaces += [{name: $n, sandbox: $ns}]
	else {cniVersion: .cniVersion, interfaces: [{name: $n, sandbox: $ns}],
	      ips: [{address: "10.99.0.2/24", interface: 0}]} end' ;;
VERSION) echo '{"cniVersion":"1.1.0","supportedVersions":["0.3.1","0.4.0","1.0.0","1.1.0"]}' ;;
esac
exit 0
SH
	chmod +x "$TMP/bin/fake-a"
	ln -s fake-a "$TMP/bin/fake-b"
	ln -s fake-a "$TMP/bin/fake-c"
}

calls() { cat "$FAKE_REC/log" 2>/dev/null | tr '\n' ',' ; }
rec() { ls "$FAKE_REC"/*-"$1"-"$2".$3 | sort -t- -k1,1n | tail -1; } # plugin CMD stdin|env
stdin_of() { jq -c "$3" "$(rec "$1" "$2" stdin)"; }
env_of() { grep "^$3=" "$(rec "$1" "$2" env)" | cut -d= -f2-; }
cache_file() { echo "$CNI_CACHE_DIR/results/$1-$CID-${2:-eth0}"; }
conflist() { printf '%s' "$2" > "$NETCONFPATH/$1.conflist"; }
reset_rec() { rm -f "$FAKE_REC"/*; }

THREE='"plugins":[
 {"type":"fake-a","capabilities":{"portMappings":true,"bandwidth":false},"runtimeConfig":{"static":1}},
 {"type":"fake-b","runtimeConfig":{"static":2}},
 {"type":"fake-c","capabilities":{"mac":true}}]'

@test "cnitool add/check/del with our loopback: result, libcni cache file, lo state" {
	conflist lo "{\"cniVersion\":\"1.0.0\",\"name\":\"$NET\",\"plugins\":[{\"type\":\"loopback\"}]}"
	run "$BIN/cnitool" add "$NET" "$NS"
	[ "$status" -eq 0 ]
	[ "$(json_get "$output" '.interfaces[0].name')" = lo ]
	[ "$(json_get "$output" '.ips[0].address')" = 127.0.0.1/8 ]
	f=$(cache_file "$NET")
	[ -f "$f" ]
	[ "$(stat -c %a "$f")" = 600 ]
	[ "$(stat -c %a "$CNI_CACHE_DIR/results")" = 700 ]
	[ "$(jq -r .kind "$f")" = cniCacheV1 ]
	[ "$(jq -r .containerId "$f")" = "$CID" ]
	[ "$(jq -r .ifName "$f")" = eth0 ]
	[ "$(jq -r .networkName "$f")" = "$NET" ]
	[ "$(jq -r .netns "$f")" = "$NS" ]
	[ "$(jq -r .config "$f" | base64 -d)" = "$(cat "$NETCONFPATH/lo.conflist")" ]
	[ "$(jq -cS .result "$f")" = "$(printf '%s' "$output" | jq -cS .)" ]
	ip -n "cnic-$TID" -j link show lo | jq -e '.[0].flags | index("UP")'
	run "$BIN/cnitool" check "$NET" "$NS"
	[ "$status" -eq 0 ]
	run "$BIN/cnitool" del "$NET" "$NS"
	[ "$status" -eq 0 ]
	[ ! -e "$f" ]
	ip -n "cnic-$TID" -j link show lo | jq -e '.[0].flags | index("UP") | not'
	# CHECK now fails: lo is down, the plugin's message comes through named
	run "$BIN/cnitool" add "$NET" "$NS"
	ip -n "cnic-$TID" link set lo down
	run "$BIN/cnitool" check "$NET" "$NS"
	[ "$status" -eq 1 ]
	[[ "$output" == 'plugin type="loopback" failed (check): '* ]]
	"$BIN/cnitool" del "$NET" "$NS"
}

@test "stdin: cniVersion/name injected, runtimeConfig only for declared+supplied capabilities, prevResult chained" {
	conflist three "{\"cniVersion\":\"1.0.0\",\"name\":\"$NET\",$THREE}"
	export CAP_ARGS='{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}],"bandwidth":{"ingressRate":1},"mac":"c2:11:22:33:44:55","ips":["10.1.2.3/24"]}'
	export CNI_ARGS='K1=V1;IgnoreUnknown=1'
	run "$BIN/cnitool" add "$NET" "$NS" -i net1
	[ "$status" -eq 0 ]
	[ "$(calls)" = "fake-a ADD,fake-b ADD,fake-c ADD," ]
	[ "$(json_get "$output" '[.interfaces[].name]|join(",")')" = fake-a,fake-b,fake-c ]
	# plugin a: declared portMappings (and bandwidth=false): only portMappings, static replaced
	[ "$(stdin_of fake-a ADD .cniVersion)" = '"1.0.0"' ]
	[ "$(stdin_of fake-a ADD .name)" = "\"$NET\"" ]
	[ "$(stdin_of fake-a ADD .runtimeConfig)" = '{"portMappings":[{"containerPort":80,"hostPort":8080,"protocol":"tcp"}]}' ]
	[ "$(stdin_of fake-a ADD 'has("prevResult")')" = false ]
	# plugin b: no capabilities: static runtimeConfig untouched; prevResult = a's result
	[ "$(stdin_of fake-b ADD .runtimeConfig)" = '{"static":2}' ]
	[ "$(stdin_of fake-b ADD '[.prevResult.interfaces[].name]')" = '["fake-a"]' ]
	[ "$(stdin_of fake-c ADD .runtimeConfig)" = '{"mac":"c2:11:22:33:44:55"}' ]
	[ "$(stdin_of fake-c ADD '[.prevResult.interfaces[].name]')" = '["fake-a","fake-b"]' ]
	# the byte form is Go's: compact, keys sorted
	[ "$(cat "$(rec fake-b ADD stdin)" | head -c 15)" = '{"cniVersion":"' ]
	# env: all six CNI_* variables
	[ "$(env_of fake-a ADD CNI_COMMAND)" = ADD ]
	[ "$(env_of fake-a ADD CNI_CONTAINERID)" = "$CID" ]
	[ "$(env_of fake-a ADD CNI_NETNS)" = "$NS" ]
	[ "$(env_of fake-a ADD CNI_IFNAME)" = net1 ]
	[ "$(env_of fake-a ADD CNI_ARGS)" = 'K1=V1;IgnoreUnknown=1' ]
	[ "$(env_of fake-a ADD CNI_PATH)" = "$CNI_PATH" ]
	# cache keeps args and all capability args, as libcni does
	f=$(cache_file "$NET" net1)
	[ "$(jq -c .cniArgs "$f")" = '[["K1","V1"],["IgnoreUnknown","1"]]' ]
	[ "$(jq -cS .capabilityArgs "$f")" = "$(printf '%s' "$CAP_ARGS" | jq -cS .)" ]
	[ "$(jq -c '[.result.interfaces[].name]' "$f")" = '["fake-a","fake-b","fake-c"]' ]

	reset_rec
	run "$BIN/cnitool" check "$NET" "$NS" -i net1
	[ "$status" -eq 0 ]
	[ "$(calls)" = "fake-a CHECK,fake-b CHECK,fake-c CHECK," ]
	for p in fake-a fake-b fake-c; do
		[ "$(stdin_of $p CHECK '[.prevResult.interfaces[].name]|join(",")')" = '"fake-a,fake-b,fake-c"' ]
		[ "$(env_of $p CHECK CNI_COMMAND)" = CHECK ]
	done
	[ "$(stdin_of fake-a CHECK .runtimeConfig.portMappings[0].hostPort)" = 8080 ]

	reset_rec
	run "$BIN/cnitool" del "$NET" "$NS" -i net1
	[ "$status" -eq 0 ]
	[ "$(calls)" = "fake-c DEL,fake-b DEL,fake-a DEL," ]
	for p in fake-a fake-b fake-c; do
		[ "$(stdin_of $p DEL '[.prevResult.interfaces[].name]|join(",")')" = '"fake-a,fake-b,fake-c"' ]
		[ "$(env_of $p DEL CNI_IFNAME)" = net1 ]
	done
	[ "$(stdin_of fake-c DEL .runtimeConfig)" = '{"mac":"c2:11:22:33:44:55"}' ]
	[ ! -e "$f" ]
}

@test "cached result is converted to the list's version for CHECK/DEL; cniVersions picks the highest supported" {
	conflist three "{\"cniVersion\":\"0.3.1\",\"cniVersions\":[\"0.4.0\",\"1.0.0\",\"9.9.9\"],\"name\":\"$NET\",$THREE}"
	run "$BIN/cnitool" add "$NET" "$NS"
	[ "$status" -eq 0 ]
	[ "$(stdin_of fake-a ADD .cniVersion)" = '"1.0.0"' ]
	# the conflist now says 0.4.0: prevResult comes converted (ips[].version appears)
	conflist three "{\"cniVersion\":\"0.4.0\",\"name\":\"$NET\",$THREE}"
	reset_rec
	run "$BIN/cnitool" del "$NET" "$NS"
	[ "$status" -eq 0 ]
	[ "$(stdin_of fake-a DEL .prevResult.cniVersion)" = '"0.4.0"' ]
	[ "$(stdin_of fake-a DEL .prevResult.ips[0].version)" = '"4"' ]
}

@test "below 0.4.0: CHECK refused, DEL without prevResult still removes the cache" {
	conflist three "{\"cniVersion\":\"0.3.1\",\"name\":\"$NET\",$THREE}"
	run "$BIN/cnitool" add "$NET" "$NS"
	[ "$status" -eq 0 ]
	[ -f "$(cache_file "$NET")" ]
	reset_rec
	run "$BIN/cnitool" check "$NET" "$NS"
	[ "$status" -eq 1 ]
	[[ "$output" == *'configuration version "0.3.1" does not support the CHECK command'* ]]
	[ -z "$(calls)" ]
	run "$BIN/cnitool" del "$NET" "$NS"
	[ "$status" -eq 0 ]
	[ "$(stdin_of fake-b DEL 'has("prevResult")')" = false ]
	[ ! -e "$(cache_file "$NET")" ]
}

@test "disableCheck (also as a string) skips CHECK entirely" {
	conflist three "{\"cniVersion\":\"1.0.0\",\"disableCheck\":\"True\",\"name\":\"$NET\",$THREE}"
	"$BIN/cnitool" add "$NET" "$NS" >/dev/null
	reset_rec
	run "$BIN/cnitool" check "$NET" "$NS"
	[ "$status" -eq 0 ]
	[ -z "$(calls)" ]
	"$BIN/cnitool" del "$NET" "$NS"
}

@test "a failing ADD names the plugin, stops the chain and caches nothing" {
	conflist three "{\"cniVersion\":\"1.0.0\",\"name\":\"$NET\",$THREE}"
	touch "$FAKE_REC/fail-fake-b-ADD"
	run "$BIN/cnitool" add "$NET" "$NS"
	[ "$status" -eq 1 ]
	[[ "$output" == *'plugin type="fake-b" failed (add): boom from fake-b; d-fake-b'* ]]
	[ "$(calls)" = "fake-a ADD,fake-b ADD," ]
	[ ! -e "$(cache_file "$NET")" ]
	# a missing plugin binary is named too
	conflist three "{\"cniVersion\":\"1.0.0\",\"name\":\"$NET\",\"plugins\":[{\"type\":\"no-such-plugin\",\"name\":\"x\"}]}"
	run "$BIN/cnitool" add "$NET" "$NS"
	[ "$status" -eq 1 ]
	[[ "$output" == *'plugin type="no-such-plugin" name="x" failed (add): failed to find plugin "no-such-plugin"'* ]]
}

@test "a failing DEL names the plugin, stops, keeps the cache; an unreadable cache does not block DEL" {
	conflist three "{\"cniVersion\":\"1.0.0\",\"name\":\"$NET\",$THREE}"
	"$BIN/cnitool" add "$NET" "$NS" >/dev/null
	reset_rec
	touch "$FAKE_REC/fail-fake-b-DEL"
	run "$BIN/cnitool" del "$NET" "$NS"
	[ "$status" -eq 1 ]
	[[ "$output" == *'plugin type="fake-b" failed (delete): boom from fake-b'* ]]
	[ "$(calls)" = "fake-c DEL,fake-b DEL," ]
	[ -f "$(cache_file "$NET")" ]
	reset_rec
	echo '{"kind":"cniCacheV1","result":"garbage"' > "$(cache_file "$NET")"
	run "$BIN/cnitool" del "$NET" "$NS"
	[ "$status" -eq 0 ]
	[ "$(calls)" = "fake-c DEL,fake-b DEL,fake-a DEL," ]
	[ "$(stdin_of fake-a DEL 'has("prevResult")')" = false ]
	[ ! -e "$(cache_file "$NET")" ]
}

@test "gc: DEL of every cached attachment of the network, then GC to each plugin (without a list: no key)" {
	conflist three "{\"cniVersion\":\"1.1.0\",\"name\":\"$NET\",$THREE}"
	conflist other "{\"cniVersion\":\"1.1.0\",\"name\":\"o$NET\",\"plugins\":[{\"type\":\"fake-a\"}]}"
	netns_new "cnic2-$TID"
	NS2=/run/netns/cnic2-$TID
	CID2=cnitool-$(printf '%s' "$NS2" | sha512sum | cut -c1-20)
	CNI_ARGS=A=1 "$BIN/cnitool" add "$NET" "$NS" >/dev/null
	"$BIN/cnitool" add "$NET" "$NS2" -i eth5 >/dev/null
	"$BIN/cnitool" add "o$NET" "$NS" >/dev/null
	reset_rec
	run "$BIN/cnitool" gc "$NET"
	[ "$status" -eq 0 ]
	[ "$(grep -c DEL "$FAKE_REC/log")" = 6 ]
	[ "$(grep GC "$FAKE_REC/log" | tr '\n' ,)" = "fake-a GC,fake-b GC,fake-c GC," ]
	# the stale DELs ran with the cached attachment's parameters
	grep -h "^CNI_CONTAINERID=$CID2\$" "$FAKE_REC"/*-DEL.env
	grep -h "^CNI_NETNS=$NS2\$" "$FAKE_REC"/*-DEL.env
	grep -h "^CNI_IFNAME=eth5\$" "$FAKE_REC"/*-DEL.env
	grep -h "^CNI_ARGS=A=1\$" "$FAKE_REC"/*-DEL.env
	# GC: no attachment parameters, no valid-attachments key, no runtimeConfig
	[ "$(env_of fake-a GC CNI_CONTAINERID)" = "" ]
	[ "$(env_of fake-a GC CNI_IFNAME)" = "" ]
	[ "$(env_of fake-a GC CNI_PATH)" = "$CNI_PATH" ]
	[ "$(stdin_of fake-b GC 'has("cni.dev/valid-attachments") or has("prevResult")')" = false ]
	[ "$(stdin_of fake-b GC .cniVersion)" = '"1.1.0"' ]
	[ ! -e "$(cache_file "$NET")" ]
	[ ! -e "$CNI_CACHE_DIR/results/$NET-$CID2-eth5" ]
	[ -f "$(cache_file "o$NET")" ]     # another network's attachment stays
}

@test "gc with CNI_VALID_ATTACHMENTS keeps those and passes both GC keys; GC errors are collected" {
	conflist three "{\"cniVersion\":\"1.1.0\",\"name\":\"$NET\",$THREE}"
	netns_new "cnic2-$TID"
	NS2=/run/netns/cnic2-$TID
	"$BIN/cnitool" add "$NET" "$NS" >/dev/null
	"$BIN/cnitool" add "$NET" "$NS2" >/dev/null
	reset_rec
	touch "$FAKE_REC/fail-fake-a-GC"
	export CNI_VALID_ATTACHMENTS="[{\"containerID\":\"$CID\",\"ifname\":\"eth0\"}]"
	run "$BIN/cnitool" gc "$NET"
	[ "$status" -eq 1 ]
	[[ "$output" == *'failed to GC plugin fake-a: boom from fake-a'* ]]
	[ "$(grep -c DEL "$FAKE_REC/log")" = 3 ]
	[ "$(grep GC "$FAKE_REC/log" | tr '\n' ,)" = "fake-a GC,fake-b GC,fake-c GC," ]  # went on after the error
	want="[{\"containerID\":\"$CID\",\"ifname\":\"eth0\"}]"
	[ "$(stdin_of fake-c GC '.["cni.dev/valid-attachments"]')" = "$want" ]
	[ "$(stdin_of fake-c GC '.["cni.dev/attachments"]')" = "$want" ]
	[ -f "$(cache_file "$NET")" ]
	"$BIN/cnitool" del "$NET" "$NS"
}

@test "gc DELs an attachment whose ADD died between writing its cache entry and naming it; DEL removes both names" {
	conflist three "{\"cniVersion\":\"1.1.0\",\"name\":\"$NET\",$THREE}"
	"$BIN/cnitool" add "$NET" "$NS" >/dev/null
	local f
	f=$(cache_file "$NET")
	# what a SIGKILL between link and rename leaves: the complete entry under "<entry>.tmp" only
	mv "$f" "$f.tmp"
	reset_rec
	CNI_VALID_ATTACHMENTS='[]' run "$BIN/cnitool" gc "$NET"
	[ "$status" -eq 0 ]
	[ "$(grep DEL "$FAKE_REC/log" | tr '\n' ,)" = "fake-c DEL,fake-b DEL,fake-a DEL," ]
	[ "$(env_of fake-a DEL CNI_CONTAINERID)" = "$CID" ]
	[ ! -e "$f.tmp" ]; [ ! -e "$f" ]
	# a leftover next to a live entry is not listed twice, and DEL takes both
	"$BIN/cnitool" add "$NET" "$NS" >/dev/null
	cp "$f" "$f.tmp"
	reset_rec
	CNI_VALID_ATTACHMENTS='[]' run "$BIN/cnitool" gc "$NET"
	[ "$status" -eq 0 ]
	[ "$(grep -c 'fake-a DEL' "$FAKE_REC/log")" = 1 ]
	[ ! -e "$f.tmp" ]; [ ! -e "$f" ]
	# a partial one (written without O_TMPFILE) is not an attachment
	printf '{"kind":"cniCacheV1","containerId":' > "$f.tmp"
	reset_rec
	CNI_VALID_ATTACHMENTS='[]' run "$BIN/cnitool" gc "$NET"
	[ "$status" -eq 0 ]
	! grep -q DEL "$FAKE_REC/log" || false
	rm -f "$f.tmp"
}

@test "gc below 1.1.0 only DELs; disableGC does nothing" {
	conflist three "{\"cniVersion\":\"1.0.0\",\"name\":\"$NET\",$THREE}"
	"$BIN/cnitool" add "$NET" "$NS" >/dev/null
	conflist three "{\"cniVersion\":\"1.0.0\",\"disableGC\":true,\"name\":\"$NET\",$THREE}"
	reset_rec
	run "$BIN/cnitool" gc "$NET" "$NS"
	[ "$status" -eq 0 ]
	[ -z "$(calls)" ]
	conflist three "{\"cniVersion\":\"1.0.0\",\"name\":\"$NET\",$THREE}"
	run "$BIN/cnitool" gc "$NET" "$NS"
	[ "$status" -eq 0 ]
	[ "$(calls)" = "fake-c DEL,fake-b DEL,fake-a DEL," ]
}

@test "status: STATUS to each plugin in order at 1.1.0, stops at the first error; no-op below" {
	conflist three "{\"cniVersion\":\"1.1.0\",\"name\":\"$NET\",$THREE}"
	run "$BIN/cnitool" status "$NET"
	[ "$status" -eq 0 ]
	[ "$(calls)" = "fake-a STATUS,fake-b STATUS,fake-c STATUS," ]
	[ "$(env_of fake-b STATUS CNI_NETNS)" = "" ]
	[ "$(stdin_of fake-b STATUS '[.name, .cniVersion, has("runtimeConfig")]')" = "[\"$NET\",\"1.1.0\",true]" ]
	reset_rec
	touch "$FAKE_REC/fail-fake-b-STATUS"
	run "$BIN/cnitool" status "$NET" "$NS"
	[ "$status" -eq 1 ]
	[[ "$output" == *'plugin type="fake-b" failed (status): boom from fake-b'* ]]
	[ "$(calls)" = "fake-a STATUS,fake-b STATUS," ]
	conflist three "{\"cniVersion\":\"1.0.0\",\"name\":\"$NET\",$THREE}"
	reset_rec
	run "$BIN/cnitool" status "$NET"
	[ "$status" -eq 0 ]
	[ -z "$(calls)" ]
	# and our loopback answers STATUS
	conflist three "{\"cniVersion\":\"1.1.0\",\"name\":\"$NET\",\"plugins\":[{\"type\":\"loopback\"}]}"
	run "$BIN/cnitool" status "$NET"
	[ "$status" -eq 0 ]
}

@test "version prints each plugin's VERSION answer" {
	conflist three "{\"cniVersion\":\"1.0.0\",\"name\":\"$NET\",\"plugins\":[{\"type\":\"loopback\"},{\"type\":\"fake-b\"}]}"
	run "$BIN/cnitool" version "$NET"
	[ "$status" -eq 0 ]
	[ "$(json_get "$output" '[.[].type]|join(",")')" = loopback,fake-b ]
	[ "$(json_get "$output" '.[0].version.supportedVersions|join(",")')" = 0.1.0,0.2.0,0.3.0,0.3.1,0.4.0,1.0.0,1.1.0 ]
	[ "$(json_get "$output" '.[1].version.supportedVersions[0]')" = 0.3.1 ]
	[ "$(env_of fake-b VERSION CNI_COMMAND)" = VERSION ]
}

@test "legacy .conf is up-converted; <confdir>/<net>/*.conf plugins are appended unless inlined-only" {
	printf '%s' "{\"cniVersion\":\"1.0.0\",\"name\":\"$NET\",\"type\":\"fake-a\"}" > "$NETCONFPATH/50-single.conf"
	run "$BIN/cnitool" add "$NET" "$NS"
	[ "$status" -eq 0 ]
	[ "$(jq -r .config "$(cache_file "$NET")" | base64 -d | jq -c .plugins[0].type)" = '"fake-a"' ]
	"$BIN/cnitool" del "$NET" "$NS"
	reset_rec
	conflist list "{\"cniVersion\":\"1.0.0\",\"name\":\"$NET\",\"plugins\":[{\"type\":\"fake-a\"}]}"
	mkdir "$NETCONFPATH/$NET"
	echo '{"type":"fake-c"}' > "$NETCONFPATH/$NET/20-c.conf"
	echo '{"type":"fake-b"}' > "$NETCONFPATH/$NET/10-b.conf"
	run "$BIN/cnitool" add "$NET" "$NS"
	[ "$(calls)" = "fake-a ADD,fake-b ADD,fake-c ADD," ]
	"$BIN/cnitool" del "$NET" "$NS"
	reset_rec
	conflist list "{\"cniVersion\":\"1.0.0\",\"loadOnlyInlinedPlugins\":\"true\",\"name\":\"$NET\",\"plugins\":[{\"type\":\"fake-a\"}]}"
	run "$BIN/cnitool" add "$NET" "$NS"
	[ "$(calls)" = "fake-a ADD," ]
	"$BIN/cnitool" del "$NET" "$NS"
}

@test "usage and input errors: exit 1 with a clear message" {
	run "$BIN/cnitool"
	[ "$status" -eq 1 ]; [[ "$output" == *usage* || "$output" == *"cnitool add"* ]]
	run "$BIN/cnitool" frob x y
	[ "$status" -eq 1 ]
	run "$BIN/cnitool" add "$NET"
	[ "$status" -eq 1 ]
	run "$BIN/cnitool" add nonet "$NS"
	[ "$status" -eq 1 ]; [[ "$output" == *'no net configuration'* ]]
	conflist three "{\"cniVersion\":\"1.0.0\",\"name\":\"$NET\",$THREE}"
	CNI_ARGS='A=1;B' run "$BIN/cnitool" add "$NET" "$NS"
	[ "$status" -eq 1 ]; [[ "$output" == *'invalid CNI_ARGS pair "B"'* ]]
	CAP_ARGS='[1]' run "$BIN/cnitool" add "$NET" "$NS"
	[ "$status" -eq 1 ]; [[ "$output" == *CAP_ARGS* ]]
	run "$BIN/cnitool" add "$NET" "$NS" -i 'bad/name'
	[ "$status" -eq 1 ]; [[ "$output" == *'plugin type="fake-a" failed (add)'*CNI_IFNAME* ]]
	[ -z "$(calls)" ]
	echo '{' > "$NETCONFPATH/00-bad.conflist"
	run "$BIN/cnitool" add "$NET" "$NS"
	[ "$status" -eq 1 ]; [[ "$output" == *00-bad.conflist* ]]
}

@test "real chain: reference bridge + host-local (1.0.0) + our loopback, CNI_ARGS IP reaches IPAM" {
	[ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] || skip "reference plugins not installed"
	BR=cnbr$TID
	link_cleanup "$BR"
	o=$((16#${TID:0:2} % 200 + 20))
	SUB=10.$o.$((16#${TID:2:2})).0/24
	PFX=${SUB%.0/24}
	conflist br "{\"cniVersion\":\"1.0.0\",\"name\":\"$NET\",\"plugins\":[
	  {\"type\":\"bridge\",\"bridge\":\"$BR\",\"isGateway\":true,\"ipam\":{\"type\":\"host-local\",
	    \"dataDir\":\"$TMP/ipam\",\"ranges\":[[{\"subnet\":\"$SUB\"}]]}},
	  {\"type\":\"loopback\"}]}"
	CNI_ARGS="IgnoreUnknown=1;IP=$PFX.42" run "$BIN/cnitool" add "$NET" "$NS"
	[ "$status" -eq 0 ]
	[ "$(json_get "$output" '.ips[0].address')" = "$PFX.42/24" ]
	[ "$(json_get "$output" '.interfaces[0].name')" = "$BR" ]
	ip -n "cnic-$TID" -j addr show eth0 | jq -e ".[0].addr_info[] | select(.local == \"$PFX.42\")"
	ip netns exec "cnic-$TID" ping -c1 -W2 "$PFX.1"
	[ -f "$TMP/ipam/$NET/$PFX.42" ]
	run "$BIN/cnitool" check "$NET" "$NS"
	[ "$status" -eq 0 ]
	run "$BIN/cnitool" del "$NET" "$NS"
	[ "$status" -eq 0 ]
	[ ! -e "$TMP/ipam/$NET/$PFX.42" ]
	! ip -n "cnic-$TID" link show eth0 || false
	[ ! -e "$(cache_file "$NET")" ]
}
