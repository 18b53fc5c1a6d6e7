#!/usr/bin/env bats
# The netlab (test/netlab/run.sh) boots Debian's cloud kernel under qemu so
# that drivers this host kernel lacks (ipvlan, 802.1q, dummy, vrf, bridge VLAN
# filtering) are tested for real. This checks the lab itself works.
load helpers

setup() { setup_common; }
teardown() { teardown_common; }

@test "netlab boots a kernel with ipvlan, vlan and dummy and passes traffic" {
	run "$REPO/test/netlab/run.sh" -q "$REPO/test/netlab/smoke" ./test.sh
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"ipvlan"* ]]
	[[ "${lines[-1]}" == PASS ]]
}
