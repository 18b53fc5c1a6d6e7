#!/usr/bin/env bats
# vlan and dummy for real, in the netlab guest (this host has neither
# 8021q nor dummy). One VM boot; one @test per guest scenario.
load helpers
load netlab-links

setup_file() { netlab_run_file vlan-dummy; }

@test "vlan-dummy netlab: guest ran to the end" {
	tail -5 "$BATS_FILE_TMPDIR/netlab.out"
	grep -qx PASS "$BATS_FILE_TMPDIR/netlab.out" || grep -qx FAIL "$BATS_FILE_TMPDIR/netlab.out"
}
@test "vlan: containers on vlan 100 and 200 reach only their own vlan" { netlab_assert "$BATS_TEST_DESCRIPTION"; }
@test "vlan: master required, vlanId range, mtu against master" { netlab_assert "$BATS_TEST_DESCRIPTION"; }
@test "vlan: linkInContainer master" { netlab_assert "$BATS_TEST_DESCRIPTION"; }
@test "vlan: one id per master, DEL twice and with the master gone" { netlab_assert "$BATS_TEST_DESCRIPTION"; }
@test "vlan: CHECK passes, detects a wrong vlan id and a lost address" { netlab_assert "$BATS_TEST_DESCRIPTION"; }
@test "vlan: forced failure leaks no link and no address" { netlab_assert "$BATS_TEST_DESCRIPTION"; }
@test "dummy: address and route applied, CHECK, DEL twice" { netlab_assert "$BATS_TEST_DESCRIPTION"; }
@test "dummy: ipam required, name clash and netns-gone DEL leak nothing" { netlab_assert "$BATS_TEST_DESCRIPTION"; }
