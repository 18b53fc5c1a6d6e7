#!/usr/bin/env bats
# ipvlan for real, in the netlab guest (Debian's kernel has ipvlan; this
# host's has not). One VM boot for the file; one @test per guest scenario.
load helpers
load netlab-links

setup_file() { netlab_run_file ipvlan; }

@test "ipvlan netlab: guest ran to the end" {
	tail -5 "$BATS_FILE_TMPDIR/netlab.out"
	grep -qx PASS "$BATS_FILE_TMPDIR/netlab.out" || grep -qx FAIL "$BATS_FILE_TMPDIR/netlab.out"
}
@test "ipvlan l2: two containers ping each other, share the master MAC" { netlab_assert "$BATS_TEST_DESCRIPTION"; }
@test "ipvlan l3: two containers ping each other" { netlab_assert "$BATS_TEST_DESCRIPTION"; }
@test "ipvlan l3s: link created in mode l3s" { netlab_assert "$BATS_TEST_DESCRIPTION"; }
@test "ipvlan flag private: siblings cannot talk; unknown flag rejected" { netlab_assert "$BATS_TEST_DESCRIPTION"; }
@test "ipvlan: unknown mode and missing ipam rejected, nothing created" { netlab_assert "$BATS_TEST_DESCRIPTION"; }
@test "ipvlan chained: master and IPs from prevResult" { netlab_assert "$BATS_TEST_DESCRIPTION"; }
@test "ipvlan CHECK: passes, detects changed mode and lost address" { netlab_assert "$BATS_TEST_DESCRIPTION"; }
@test "ipvlan DEL: twice, without master or default route, with netns gone" { netlab_assert "$BATS_TEST_DESCRIPTION"; }
@test "ipvlan forced failure: no link, no address leaked" { netlab_assert "$BATS_TEST_DESCRIPTION"; }
