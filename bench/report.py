#!/usr/bin/env python3
"""results.json -> report.md + plots (gnuplot, SVG and PNG) in the same dir."""
import json
import os
import shutil
import statistics
import subprocess
import sys

out = sys.argv[1]
R = json.load(open(os.path.join(out, "results.json")))
M = R["machine"]
L = []


def w(s=""):
    L.append(s)


def f2(x, nd=2):
    if x is None:
        return "–"
    if abs(x) >= 100:
        return "%.0f" % x
    if abs(x) >= 10:
        return "%.1f" % x
    return ("%." + str(nd) + "f") % x


def rng(st, key="p50"):
    if not st:
        return "–"
    return "%s (%s–%s)" % (f2(st[key]), f2(st[key + "_min"]), f2(st[key + "_max"]))


def ratio(a, b):
    if not a or not b:
        return None
    return a / b


def med(xs):
    return statistics.median(xs) if xs else None


targets = []  # (target, measured, ok, note)


def target(name, measured, ok, why=""):
    targets.append((name, measured, "PASS" if ok else ("MISS" if ok is False else "n/a"), why))


chains = R.get("chains", {})
Ns = [str(n) for n in M["N"]]


def p50(c, N, s, rt, op):
    try:
        return chains[c]["points"][N][s][rt][op]["p50"]
    except (KeyError, TypeError):
        return None


def fl(c, N, op):
    try:
        return chains[c]["points"][N]["floor"][op]["p50"]
    except (KeyError, TypeError):
        return None


# ---- targets
N200 = "200" if "200" in Ns else (Ns[-1] if Ns else None)
for c, want in (("portmap", 10), ("bridge", 5), ("macvlan", 3)):
    if c not in chains:
        continue
    r = ratio(p50(c, N200, "ref", "libcni", "add"), p50(c, N200, "ours", "libcni", "add"))
    target("%s ADD p50 at N=%s: reference/ours >= %dx" % (chains[c]["title"], N200, want),
           "%sx" % f2(r) if r else "not built yet", r >= want if r else None)
if Ns:
    for c in chains:
        a, b = p50(c, Ns[-1], "ours", "libcni", "add"), p50(c, Ns[0], "ours", "libcni", "add")
        r = ratio(a, b)
        fa, fb = fl(c, Ns[-1], "add"), fl(c, Ns[0], "add")
        extra = ""
        if fa and fb and a and b:
            extra = "; kernel floor %sx; growth ours +%s ms, floor +%s ms" % (f2(fa / fb), f2(a - b), f2(fa - fb))
        target("%s ADD p50 N=%s / N=%s <= 1.2 (ours)" % (chains[c]["title"], Ns[-1], Ns[0]),
               "%sx (ref %sx%s)" % (f2(r), f2(ratio(p50(c, Ns[-1], "ref", "libcni", "add"), p50(c, Ns[0], "ref", "libcni", "add"))), extra) if r else "–",
               r <= 1.2 if r else None)
    for c in chains:
        if chains[c]["floor_mode"] != "bridge" and c != "macvlan":
            continue
        a, b = p50(c, N200, "ours", "libcni", "del"), fl(c, N200, "del")
        r = ratio(a, b)
        target("%s DEL p50 at N=%s within 1.25x of the kernel floor" % (chains[c]["title"], N200),
               "%sx (%s vs %s ms)" % (f2(r), f2(a), f2(b)) if r else "–", r <= 1.25 if r else None)
rss_max = {}
meta = R.get("meta") or {}
for c in list(chains.values()) + [meta]:
    for s, plugs in c.get("rusage", {}).items():
        for p, cmds in plugs.items():
            for cmd, v in cmds.items():
                if v["maxrss_kib"]:
                    rss_max.setdefault(s, {})[p] = max(rss_max.get(s, {}).get(p, 0), max(v["maxrss_kib"]))
if rss_max.get("ours"):
    worst = max(rss_max["ours"].items(), key=lambda kv: kv[1])
    target("peak RSS per plugin process <= 2 MiB (ours)", "max %s KiB (%s); ref max %s KiB" %
           (worst[1], worst[0], max(rss_max.get("ref", {"": 0}).values())), worst[1] <= 2048)
sz = R.get("sizes", {})
# on-disk totals count a hard-linked file once (our plugins are hard links of one multi-call binary)
szd = R.get("sizes_disk", {s: sum(v.values()) for s, v in sz.items()})
if sz.get("ours"):
    tot = szd.get("ours", 0)
    target("all plugins together <= 2 MB on disk (ours)", "%.2f MB (%d plugins); ref %.1f MB (%d)" %
           (tot / 1e6, len(sz["ours"]), szd.get("ref", 0) / 1e6, len(sz.get("ref", {}))), tot <= 2e6)
ip = R.get("iperf", {})


def pub_target(name, pub_key, direct_key):
    pubs, directs = ip.get(pub_key, []), ip.get(direct_key, [])
    if pubs and directs and len(pubs) == len(directs):
        # the two paths run back to back in every round: a ratio per round
        # cancels the box's drift between rounds, their median is the figure
        rr = sorted(p / d for p, d in zip(pubs, directs) if d)
        r = med(rr)
        target(name, "%sx (median of %d back-to-back pairs, %s–%s)" % (f2(r), len(rr), f2(rr[0]), f2(rr[-1])),
               r >= 0.97)
    elif med(pubs) and med(directs):
        target(name, "%sx" % f2(med(pubs) / med(directs)), med(pubs) / med(directs) >= 0.97)


directs = ip.get("container IP over the bridge", [])
direct = med(directs) if directs else None
pub_target("published-port throughput >= 0.97x container IP (ours, client on the host)",
           "published port, ours (connect() rewrite)", "container IP over the bridge")
pub_target("published-port throughput >= 0.97x container IP (ours, client outside the host)",
           "published port from outside, ours (nft DNAT)", "container IP from outside")

# ---- report
w("# cni-c benchmarks")
w()
w("Run %s on %s CPUs, kernel %s; reference: Debian containernetworking-plugins %s in /usr/lib/cni; "
  "cni-c %s. **Shared machine**: other engineers ran builds and tests at the same time (load average "
  "%s at start, %s at the end), so absolute times are noisy; ours and the reference were measured "
  "alternately in the same run and the ratios are what to read. Everything ran in throw-away network "
  "namespaces acting as the host: one per stage, and in the chain stage one per suite and one for "
  "the floor, so each suite's N containers share their host with nobody else's, as on a real node." % (
      M["date"], M["cpus"], M["kernel"], M["ref_version"], M["git"], M["loadavg_start"].split()[0],
      M.get("loadavg_end", "?").split()[0]))
w()
w("Settings: N = %s containers already attached, %d ADD+DEL samples per (chain, N, suite, runtime) in %d runs; "
  "a figure is the median over the runs of that run's p50 (or p95), with the min–max over runs in "
  "parentheses; ms unless stated. %s" % (", ".join(Ns), M["samples"], M["blocks"],
                                         "**Quick smoke run** (BENCH_QUICK=1): too few samples to trust." if M["quick"] else ""))
w()
w("## Targets")
w()
w("| target | measured | |")
w("|---|---|---|")
for t in targets:
    w("| %s | %s | %s |" % (t[0], t[1], t[2]))
w()
missing = {c: v["missing"] for c, v in chains.items() if v.get("missing")}
if missing:
    w("Not built yet: " + "; ".join("%s: %s" % (chains[c]["title"], ", ".join("%s (%s)" % (s, " ".join(m)) for s, m in v.items()))
                                   for c, v in missing.items()))
    w()

w("## Chain ADD / DEL latency")
w()
w("Runtime `libcni`: Debian's libcni (the library containerd/CRI-O/podman embed) in one long-lived Go process; "
  "`cnitool`: our C cnitool, one process per operation (its exec is included). Both run the same conflist "
  "(cniVersion 1.0.0), only CNI_PATH differs; each suite has its own host netns, bridge/master, subnet "
  "and dataDir holding its own N containers (the machine-wide count of netns is the sum). Floor: `bench/floor` doing the kernel work of one ADD (veth with the peer "
  "in the netns, one queue, enslaved and up; address + default route; one nft transaction adding a "
  "masquerade set element and a port-map element) and one DEL (nft delete + veth delete), on its own "
  "bridge with the same N (macvlan chain: macvlan created in the netns + address/route; DEL deletes it). "
  "Netns creation and removal are the runtime's job and not timed; sampled netns are removed in bulk after "
  "each run of samples (then a 0.3 s pause), for the suites and the floor alike, so a DEL never waits "
  "behind the kernel's cleanup of the previous sample's netns: DEL figures are one uncontended veth "
  "`rcu_barrier()` (~20 ms in /work/shared/reference/kernel-floor.md, `-L` variant), not the 36 ms "
  "back-to-back case. The floor keeps its nft socket open until after the veth delete, as the floor "
  "study prescribes.")
w()
for c, v in chains.items():
    if not v["points"]:
        continue
    w("### %s" % v["title"])
    w()
    w("| N | runtime | ADD ours p50 | ADD ref p50 | ref/ours | ADD ours p95 | ADD ref p95 | DEL ours p50 | DEL ref p50 | ref/ours | DEL ours p95 | DEL ref p95 | chain CPU ADD ours / ref |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for N in Ns:
        pt = v["points"].get(N)
        if not pt:
            continue
        for rt in ("libcni", "cnitool"):
            o, r = pt["ours"][rt], pt["ref"][rt]
            w("| %s | %s (n=%s/%s) | %s | %s | **%s** | %s | %s | %s | %s | **%s** | %s | %s | %s / %s |" % (
                N, rt, o["add"]["n"] if o["add"] else 0, r["add"]["n"] if r["add"] else 0, rng(o["add"]), rng(r["add"]),
                f2(ratio(r["add"] and r["add"]["p50"], o["add"] and o["add"]["p50"])),
                rng(o["add"], "p95"), rng(r["add"], "p95"), rng(o["del"]), rng(r["del"]),
                f2(ratio(r["del"] and r["del"]["p50"], o["del"] and o["del"]["p50"])),
                rng(o["del"], "p95"), rng(r["del"], "p95"),
                f2(o["add_cpu"] and o["add_cpu"]["p50"]), f2(r["add_cpu"] and r["add_cpu"]["p50"])))
        flr = pt["floor"]
        w("| %s | **floor** | %s | | | %s | | %s | | | %s | | |" % (N, rng(flr["add"]), rng(flr["add"], "p95"),
                                                                   rng(flr["del"]), rng(flr["del"], "p95")))
    ec = v.get("error_count", {})
    if any(ec.values()):
        w()
        w("Errors: %s; first: %s" % (ec, "; ".join(e for s in v["errors"].values() for e in s[:2])))
    w()
w("\"chain CPU\" is the user+sys time of the plugin processes of one ADD (RUSAGE_CHILDREN of the driver).")
w()
w("![ADD p50 vs N](add-latency.svg) ![DEL p50 vs N](del-latency.svg)")
w()

w("## Per plugin invocation")
w()
w("Through a tiny launcher (`bench/runru`, wait4 rusage) on the first N of each chain, medians over the "
  "invocations. CPU is the plugin's own (delegated IPAM subtracted); peak RSS of a plugin that delegates "
  "is the larger of it and its IPAM child.")
w()
w("| chain | plugin | cmd | peak RSS KiB ours | ref | CPU ms ours | ref | wall ms ours | ref |")
w("|---|---|---|---|---|---|---|---|---|")
def rusage_rows(c, ru):
    g = lambda d, k: f2(med(d[k])) if d else "–"
    gi = lambda d: "%d" % med(d["maxrss_kib"]) if d else "–"
    for p in sorted(set(ru.get("ours", {})) | set(ru.get("ref", {}))):
        for cmd in ("ADD", "DEL"):
            o = ru.get("ours", {}).get(p, {}).get(cmd)
            r = ru.get("ref", {}).get(p, {}).get(cmd)
            w("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (c, p, cmd, gi(o), gi(r), g(o, "cpu_ms"), g(r, "cpu_ms"),
                                                             g(o, "wall_ms"), g(r, "wall_ms")))


for c, v in chains.items():
    rusage_rows(c, v.get("rusage", {}))
rusage_rows("meta", meta.get("rusage", {}))
w()
if meta.get("points"):
    w("### Meta plugins in a chain: %s" % meta["title"])
    w()
    w("One container at a time through libcni, suites alternating (N=1); the ADD carries both limits "
      "(an ifb and two tbfs) and a tuning MTU + sysctl.")
    w()
    w("| op | ours p50 ms (min–max of runs) | ref p50 ms | ref/ours |")
    w("|---|---|---|---|")
    for op in ("add", "del"):
        o = (meta["points"].get("ours") or {}).get(op)
        r = (meta["points"].get("ref") or {}).get(op)
        w("| %s | %s | %s | %s |" % (op.upper(), rng(o) if o else "–", rng(r) if r else "–",
                                      f2(ratio(r["p50"], o["p50"])) + "x" if o and r else "–"))
    if meta.get("missing"):
        w()
        w("Not built: %s" % "; ".join("%s: %s" % (s, " ".join(m)) for s, m in meta["missing"].items()))
    if meta.get("errors"):
        w()
        w("Errors (%d): %s" % (len(meta["errors"]), "; ".join(meta["errors"][:3])))
    w()
w("### Binary sizes")
w()
w("| plugin | ours bytes | reference bytes |")
w("|---|---|---|")
for p in sorted(set(sz.get("ours", {})) | set(sz.get("ref", {}))):
    w("| %s | %s | %s |" % (p, sz.get("ours", {}).get(p, "–"), sz.get("ref", {}).get(p, "–")))
common = set(sz.get("ours", {})) & set(sz.get("ref", {}))
w("| **all, on disk** (hard links once) | **%d** (%d plugins) | **%d** (%d plugins) |" % (
    szd.get("ours", 0), len(sz.get("ours", {})), szd.get("ref", 0), len(sz.get("ref", {}))))
w("| plugins in both | %d | %d |" % (sum(sz["ours"][p] for p in common), sum(sz["ref"][p] for p in common)))
w()

par = R.get("par")
if par:
    w("## Concurrency: %d chain ADDs at once on one network (bridge + host-local)" % par["n"])
    w()
    w("| suite | wall ms | ADDs/s | errors | distinct addresses |")
    w("|---|---|---|---|---|")
    for s in ("ours", "ref"):
        d = par.get(s)
        if not d:
            continue
        if "missing" in d:
            w("| %s | not built yet: %s | | | |" % (s, " ".join(d["missing"])))
            continue
        w("| %s | %s | %s | %d | %d of %d%s |" % (s, f2(d["wall_ms"]), f2(d["adds_per_s"]), d["errors"], d["distinct"], d["ips"],
                                                " **DUPLICATES**" if d["distinct"] != d["ips"] else ""))
    r = ratio(par.get("ref", {}).get("wall_ms"), par.get("ours", {}).get("wall_ms"))
    if r:
        w()
        w("Reference/ours wall time: %sx." % f2(r))
    w()

hl = R.get("hostlocal")
if hl:
    w("## host-local alone, by existing allocations")
    w()
    w("Plugin run directly (through `bench/runru`), dataDir pre-populated with reservation files in the "
      "reference format (`<ip>` holding `<cid>\\r\\n<ifname>`, `last_reserved_ip.0`); the first ADD/DEL per "
      "size is a warm-up (our index is built there) and not counted.")
    w()
    w("| allocations | ADD ours p50 | ADD ref p50 | ref/ours | ADD p95 ours / ref | DEL ours p50 | DEL ref p50 | ref/ours | DEL p95 ours / ref | CPU ADD ours / ref | peak RSS KiB ours / ref |")
    w("|---|---|---|---|---|---|---|---|---|---|---|")
    for k, v in hl.items():
        if not k.isdigit():
            continue
        o, r = v.get("ours"), v.get("ref")
        if not o or not r:
            continue
        w("| %s | %s | %s | **%s** | %s / %s | %s | %s | **%s** | %s / %s | %s / %s | %s / %s |" % (
            k, rng(o["add"]), rng(r["add"]), f2(ratio(r["add"]["p50"], o["add"]["p50"])),
            f2(o["add"]["p95"]), f2(r["add"]["p95"]), rng(o["del"]), rng(r["del"]),
            f2(ratio(r["del"]["p50"], o["del"]["p50"])), f2(o["del"]["p95"]), f2(r["del"]["p95"]),
            f2(o["add_cpu"]), f2(r["add_cpu"]), o["rss_kib"], r["rss_kib"]))
    if hl.get("errors"):
        w()
        w("Errors: " + "; ".join(hl["errors"][:3]))
    w()

if ip and any(isinstance(v, list) and v for v in ip.values()):
    w("## Datapath (iperf3 -P 4)")
    w()
    w("Gbit/s, median (min–max) of the runs; all traffic inside the bench namespaces. Published port: the "
      "client in the host namespace connects to the bridge address on the host port; ours rewrites the "
      "destination once at connect() (cgroup BPF, include/cni/socklb.h), the reference DNATs every packet "
      "(iptables). From outside: a client netns routed through the bench host connects to the host's "
      "address on that veth, DNAT'd in PREROUTING by both suites; its own container-IP run is the base. "
      "socat: `socat TCP-LISTEN,fork` in the host namespace forwarding to the container (the docker-proxy "
      "analogue). The paths run back to back in each round (order reversed every other round); the "
      "published-port target is the median of the per-round ratios to the container IP, which cancels the "
      "shared box's drift between rounds.")
    w()
    w("| path | Gbit/s | vs container IP |")
    w("|---|---|---|")
    for k, v in ip.items():
        if isinstance(v, list) and v:
            base = med(ip.get("container IP from outside", [])) if "outside" in k else direct
            w("| %s | %s (%s–%s) | %s |" % (k, f2(med(v)), f2(min(v)), f2(max(v)),
                                          f2(med(v) / base) if base else "–"))
    if ip.get("errors"):
        w()
        w("Errors: " + "; ".join(ip["errors"][:3]))
    w()
    w("![iperf3](iperf.svg)")
    w()
if R.get("stage_errors"):
    w("## Stage errors")
    w()
    for k, v in R["stage_errors"].items():
        w("- %s: `%s`" % (k, v))
    w()
an = os.path.join(os.path.dirname(os.path.abspath(__file__)), "analysis.md")
if os.path.exists(an):
    L.append(open(an).read().rstrip("\n"))
    w()
w("Stage times (s): %s; total %s s." % (R.get("stage_secs"), R.get("total_secs")))
w()
w("Reproduce: `make bench` (full) or `BENCH_QUICK=1 bench/run.sh` (smoke); knobs in `bench/bench.py`.")
open(os.path.join(out, "report.md"), "w").write("\n".join(L) + "\n")

# ---- plots
def plot(op, fname, title):
    dat = os.path.join(out, fname + ".dat")
    cols = []
    with open(dat, "w") as f:
        hdr = ["N"]
        for c in chains:
            for s in ("ours", "ref", "floor"):
                hdr.append("%s-%s" % (c, s))
        f.write("# " + " ".join(hdr) + "\n")
        for N in Ns:
            row = [N]
            for c in chains:
                for s in ("ours", "ref"):
                    row.append(f2(p50(c, N, s, "libcni", op), 3) if p50(c, N, s, "libcni", op) else "NaN")
                row.append(f2(fl(c, N, op), 3) if fl(c, N, op) else "NaN")
            f.write(" ".join(row) + "\n")
    i = 2
    for ci, c in enumerate(chains):
        for s, dt in (("ours", 1), ("ref", 2), ("floor", 3)):
            cols.append("'%s' u 1:%d w linespoints lc %d dt %d lw 2 t '%s %s'" % (dat, i, ci + 1, dt, c, s))
            i += 1
    gp = ("set title '%s'; set xlabel 'containers already attached (N)'; set ylabel 'ms (p50, log)'; "
          "set logscale xy; set key outside right; set grid; plot %s" % (title, ", ".join(cols)))
    for term, ext in (("svg size 900,480 dynamic font 'sans,11'", "svg"), ("pngcairo size 900,480", "png")):
        subprocess.run(["gnuplot", "-e", "set terminal %s; set output '%s.%s'; %s" %
                        (term, os.path.join(out, fname), ext, gp)], check=False)
    os.unlink(dat)


HAVE_GNUPLOT = shutil.which("gnuplot") is not None
if chains and Ns and HAVE_GNUPLOT:
    plot("add", "add-latency", "chain ADD p50 (libcni)")
    plot("del", "del-latency", "chain DEL p50 (libcni)")
if ip and direct and HAVE_GNUPLOT:
    dat = os.path.join(out, "iperf.dat")
    with open(dat, "w") as f:
        for k, v in ip.items():
            if isinstance(v, list) and v:
                f.write('"%s" %s\n' % (k.replace(" (", "\\n("), f2(med(v), 3)))
    gp = ("set title 'iperf3 -P 4, Gbit/s (median)'; set style fill solid 0.6; set boxwidth 0.6; set yrange [0:*]; "
          "set xtics rotate by -25 font ',9'; unset key; set grid y; plot '%s' u 0:2:xtic(1) w boxes" % dat)
    for term, ext in (("svg size 900,420 dynamic font 'sans,11'", "svg"), ("pngcairo size 900,420", "png")):
        subprocess.run(["gnuplot", "-e", "set terminal %s; set output '%s.%s'; %s" %
                        (term, os.path.join(out, "iperf"), ext, gp)], check=False)
    os.unlink(dat)
