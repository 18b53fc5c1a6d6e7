#!/bin/bash
# make bench: our plugins side by side with the reference plugins
# (Debian's containernetworking-plugins in /usr/lib/cni), a kernel floor,
# a report and plots. Needs root. Knobs: see bench/bench.py (BENCH_QUICK=1
# for a ~1-2 minute smoke, BENCH_N, BENCH_SAMPLES, BENCH_CHAINS, ...).
#
#   bench/run.sh [outdir]     default bench/results/<date>, copied to
#                             bench/results/latest/ (full runs only)
# The benchmark never fails for slowness: exit status is 0 whenever a
# report was written.
set -eu
cd "$(dirname "$0")/.."
REPO=$PWD
B=$REPO/build/bench
[ "$(id -u)" = 0 ] || { echo "bench: needs root (network namespaces)" >&2; exit 1; }

need=()
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
command -v iperf3 >/dev/null || need+=(iperf3)
command -v gnuplot >/dev/null || need+=(gnuplot-nox)
command -v socat >/dev/null || need+=(socat)
command -v go >/dev/null || need+=(golang-go)
[ -d /usr/share/gocode/src/github.com/containernetworking/cni/libcni ] || need+=(golang-github-appc-cni-dev)
pkg-config --exists libmnl 2>/dev/null || need+=(libmnl-dev)
command -v nft >/dev/null || need+=(nftables)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
	echo "bench: installing ${need[*]}" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >&2 ||
		{ apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >&2; } ||
		echo "bench: could not install ${need[*]}; the parts needing them are skipped" >&2
fi

[ -x bin/cnitool ] && [ -f build/rel/libcnic.a ] || make --no-print-directory all
mkdir -p "$B"
CFLAGS="-std=gnu11 -O2 -Wall -Wextra -Werror"
cc $CFLAGS -o "$B/floor" bench/floor/floor.c $(pkg-config --cflags --libs libmnl)
cc $CFLAGS -o "$B/runru" bench/runru/runru.c
# drops our portmap's connect() entries of a bench host netns before it goes
# (the fill containers are never DEL'd one by one)
cc $CFLAGS -D_GNU_SOURCE -Iinclude $(pkg-config --cflags jansson libnl-3.0 libmnl libnftnl) -o "$B/socklbctl" \
	test/tools/socklbctl.c build/rel/libcnic.a $(pkg-config --libs jansson libnl-3.0 libnl-route-3.0 libmnl libnftnl)
env GO111MODULE=off GOFLAGS= GOPATH="/usr/share/gocode:$B/gopath" GOCACHE="$B/gocache" \
	go build -o "$B/bench-driver" ./bench/driver

SUFFIX=""
[ "${BENCH_QUICK:-}" = 1 ] && SUFFIX=-quick
OUT=${1:-bench/results/$(date +%Y%m%d-%H%M%S)$SUFFIX}
mkdir -p "$OUT"
export BENCH_RID=${BENCH_RID:-$(head -c 2 /dev/urandom | od -An -tx1 | tr -d ' \n')}

# whatever happens, nothing of this run stays behind: every name carries
# the run id (bench host namespaces cbh<rid>*, container netns cb<rid>*,
# floor netns f<rid>*; all links and rules live inside the host namespaces)
cleanup() {
	local n
	for n in $(ls /run/netns 2>/dev/null); do
		case $n in
		cbh"$BENCH_RID"*) ip netns del "$n" 2>/dev/null || true ;;
		cb"$BENCH_RID"* | f"$BENCH_RID"*) umount -l "/run/netns/$n" 2>/dev/null; rm -f "/run/netns/$n" ;;
		esac
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

python3 bench/bench.py "$OUT"
python3 bench/report.py "$OUT"
if [ -z "${1:-}" ] && [ "${BENCH_QUICK:-}" != 1 ]; then
	rm -rf bench/results/latest
	mkdir -p bench/results/latest
	cp "$OUT"/report.md "$OUT"/*.svg "$OUT"/*.png bench/results/latest/ 2>/dev/null || true
	sed -i 's|(\./|(./|g' bench/results/latest/report.md
fi
echo "bench: report in $OUT/report.md" >&2
