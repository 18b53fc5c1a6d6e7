# Host side of the link plugins' netlab tests: boot the netlab once per
# bats file with our plugins at /opt/cni/bin (+ the reference host-local
# when ours is not built), keep the guest's TAP output, and let every
# @test assert its own scenario line.

# netlab_run_file NAME [BINS]: run test/netlab/NAME/test.sh in the guest
# (with host programs BINS besides jq and ping); output in
# $BATS_FILE_TMPDIR/netlab.out, exit status in .../netlab.rc
netlab_run_file() {
	local name=$1 bins=${2:-} x=$BATS_FILE_TMPDIR/extra o=$BATS_FILE_TMPDIR/overlay
	mkdir -p "$x" "$o/opt/cni/bin"
	cp "$REPO/test/netlab/lib.sh" "$REPO/test/netlab/$name/test.sh" "$x/"
	cp "$BIN"/* "$o/opt/cni/bin/" 2>/dev/null
	[ -x "$o/opt/cni/bin/host-local" ] || cp /usr/lib/cni/host-local "$o/opt/cni/bin/"
	"$REPO/test/netlab/run.sh" -q -b "jq ping $bins" -o "$o" "$x" ./test.sh > "$BATS_FILE_TMPDIR/netlab.out" 2>&1
	echo $? > "$BATS_FILE_TMPDIR/netlab.rc"
}

# netlab_assert DESCRIPTION: the guest printed "ok N - DESCRIPTION"
netlab_assert() {
	local out=$BATS_FILE_TMPDIR/netlab.out
	if ! grep -qE "^(ok|not ok) [0-9]+ - $(printf '%s' "$1" | sed 's/[][\.*^$(){}?+|/]/\\&/g')\$" "$out"; then
		echo "scenario not run; guest output:"; tail -40 "$out"; return 1
	fi
	if grep -qE "^not ok [0-9]+ - $(printf '%s' "$1" | sed 's/[][\.*^$(){}?+|/]/\\&/g')\$" "$out"; then
		# show the scenario's comment block
		awk -v d="$1" '/^#   /{buf=buf $0 "\n"; next} { if ($0 ~ "^not ok [0-9]+ - " && index($0, d)) printf "%s", buf; buf="" }' "$out"
		return 1
	fi
}
