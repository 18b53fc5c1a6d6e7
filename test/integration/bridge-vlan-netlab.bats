#!/usr/bin/env bats
# bridge VLAN keys for real, in the netlab guest (this host's kernel has no
# CONFIG_BRIDGE_VLAN_FILTERING; bridge.bats keeps the code-108 test). One VM
# boot; one @test per guest scenario.
load helpers
load netlab-links

setup_file() { netlab_run_file bridge-vlan bridge; }

@test "bridge-vlan netlab: guest ran to the end" {
	tail -5 "$BATS_FILE_TMPDIR/netlab.out"
	grep -qx PASS "$BATS_FILE_TMPDIR/netlab.out" || grep -qx FAIL "$BATS_FILE_TMPDIR/netlab.out"
}
@test "bridge vlan: access ports reach their own vlan only, PVID untagged, preserveDefaultVlan; CHECK sees the port VLANs" { netlab_assert "$BATS_TEST_DESCRIPTION"; }
@test "bridge vlan: trunk port carries tagged frames of its vlans only; CHECK sees a trunk VID missing or untagged" { netlab_assert "$BATS_TEST_DESCRIPTION"; }
@test "bridge vlan: isGateway with vlan puts the gateway on <bridge>.<vlan>" { netlab_assert "$BATS_TEST_DESCRIPTION"; }
@test "bridge vlan: a gateway name too long is refused and rolled back" { netlab_assert "$BATS_TEST_DESCRIPTION"; }
