#!/usr/bin/env python3
"""cni-c benchmarks, side by side with the reference plugins.

Run through bench/run.sh (which builds the helpers and installs what is
missing). Everything runs inside throw-away "bench host" network namespaces
(one per stage) so no iptables/nft rule, bridge or veth touches the real
host, and tearing a stage down is deleting its namespace. Results go to
<out>/results.json; bench/report.py turns them into report.md and plots.

Knobs (environment):
  BENCH_QUICK=1        smoke: N=1,10, few samples, small host-local sizes,
                       short iperf3 runs (~1-2 min)
  BENCH_N=1,200,1000   containers already attached (<= 1020, bridge limit)
  BENCH_SAMPLES=24     ADD+DEL samples per (chain, N, suite, runtime)
  BENCH_BLOCKS=3       samples are split into this many runs; figures are
                       the median of the per-run p50/p95 with min and max
  BENCH_POINT_SECS=90  stop sampling one (chain, N) after this long (at least
                       3 samples per run are taken): the reference portmap
                       at N=1000 takes seconds per operation
  BENCH_CHAINS=...     comma list of chain names (default: all)
  BENCH_PAR=64         concurrent ADDs
  BENCH_FILL_WORKERS=4 concurrent ADDs while attaching the N background
                       containers (not measured)
  BENCH_HL=10,1000,10000  host-local existing allocations
  BENCH_IPERF_RUNS=7 BENCH_IPERF_SECS=5
  BENCH_SKIP=...       comma list of stages to skip: chains,rusage,meta,par,hostlocal,iperf
"""
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BENCH_BUILD", os.path.join(REPO, "build", "bench"))
OURS = os.path.join(REPO, "bin")
REF = os.environ.get("BENCH_REF_DIR", "/usr/lib/cni")
QUICK = os.environ.get("BENCH_QUICK") == "1"


def envlist(name, default, conv=int):
    v = os.environ.get(name)
    return [conv(x) for x in (v.split(",") if v else default) if str(x) != ""]


NS = envlist("BENCH_N", [1, 10] if QUICK else [1, 200, 1000])
SAMPLES = int(os.environ.get("BENCH_SAMPLES", 4 if QUICK else 24))
BLOCKS = int(os.environ.get("BENCH_BLOCKS", 2 if QUICK else 3))
PAR = int(os.environ.get("BENCH_PAR", 16 if QUICK else 64))
HL = envlist("BENCH_HL", [10, 100] if QUICK else [10, 1000, 10000])
IPERF_RUNS = int(os.environ.get("BENCH_IPERF_RUNS", 1 if QUICK else 7))
IPERF_SECS = int(os.environ.get("BENCH_IPERF_SECS", 1 if QUICK else 5))
RUSAGE_SAMPLES = 3 if QUICK else 8
FILL_WORKERS = int(os.environ.get("BENCH_FILL_WORKERS", 4))
POINT_SECS = float(os.environ.get("BENCH_POINT_SECS", 60 if QUICK else 90))
SKIP = set(envlist("BENCH_SKIP", [], str))
RID = os.environ.get("BENCH_RID") or "%04x" % random.randrange(0x10000)
SUITES = ["ours", "ref"]


def log(*a):
    print("[bench %s]" % time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def sh(cmd, check=True, **kw):
    return subprocess.run(cmd, shell=True, check=check, text=True, **kw)


# ---------------------------------------------------------------- chains
# One conflist template per chain, identical for both suites; per suite
# only the bridge/master name, the subnets and the dataDir differ (each
# suite gets its own N attached containers), plus CNI_PATH.
def conf_bridge(p, portmap=False, dual=False):
    ranges = [[{"subnet": p["v4"]}]]
    if dual:
        ranges.append([{"subnet": p["v6"]}])
    plugins = [{
        "type": "bridge", "bridge": p["br"], "isGateway": True, "ipMasq": True,
        "ipam": {"type": "host-local", "dataDir": p["data"], "ranges": ranges,
                 "routes": [{"dst": "0.0.0.0/0"}] + ([{"dst": "::/0"}] if dual else [])},
    }]
    if portmap:
        plugins.append({"type": "portmap", "capabilities": {"portMappings": True}})
    return plugins


def conf_macvlan(p):
    return [{"type": "macvlan", "master": p["master"], "mode": "bridge",
             "ipam": {"type": "host-local", "dataDir": p["data"],
                      "ranges": [[{"subnet": p["v4"]}]], "routes": [{"dst": "0.0.0.0/0"}]}}]


CHAINS = [
    # name, title, conf builder, needs port, floor mode
    ("bridge", "bridge + host-local (ipMasq)", lambda p: conf_bridge(p), False, "bridge"),
    ("portmap", "bridge + host-local + portmap (1 port)", lambda p: conf_bridge(p, portmap=True), True, "bridge"),
    ("macvlan", "macvlan + host-local", conf_macvlan, False, "macvlan"),
    ("dual", "dual-stack bridge + host-local", lambda p: conf_bridge(p, dual=True), False, "bridge"),
]
SEL = envlist("BENCH_CHAINS", [c[0] for c in CHAINS], str)


def plugin_types(plugins):
    t = set()
    for pl in plugins:
        t.add(pl["type"])
        if "ipam" in pl:
            t.add(pl["ipam"]["type"])
    return sorted(t)


# ---------------------------------------------------------------- processes
class Proc:
    """A line-protocol helper (bench-driver or floor) inside a netns."""

    def __init__(self, host, argv, env=None):
        self.p = subprocess.Popen(["ip", "netns", "exec", host] + argv, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, bufsize=1, env=env)

    def cmd(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        out = self.p.stdout.readline()
        if not out:
            raise RuntimeError("helper died on: " + line)
        return out.strip()

    def close(self):
        try:
            self.p.stdin.write("quit\n")
            self.p.stdin.close()
            self.p.wait(timeout=120)
        except Exception:
            self.p.kill()
            self.p.wait()


class Host:
    """A bench host netns with a driver and a floor program in it."""

    def __init__(self, name, work, floor=True, runru_log=None, drv=True):
        self.name = "cbh%s%s" % (RID, name)
        sh("ip netns add %s && ip netns exec %s ip link set lo up" % (self.name, self.name))
        self.work = work
        env = dict(os.environ)
        # our nft-using plugins keep per-attachment records under
        # /var/lib/cni/cni-c unless told otherwise: keep them in the run
        env["CNI_C_STATE_DIR"] = os.path.join(work, "cni-c-state")
        if runru_log:
            env["RUNRU_LOG"] = runru_log
        self.drv = Proc(self.name, [os.path.join(BUILD, "bench-driver")], env) if drv else None
        self.floor = Proc(self.name, [os.path.join(BUILD, "floor")]) if floor else None
        if self.drv:
            self.drv.cmd("cnitool " + os.path.join(OURS, "cnitool"))

    def exec(self, cmd, check=True, **kw):
        return subprocess.run(["ip", "netns", "exec", self.name, "sh", "-c", cmd], check=check, text=True, **kw)

    def close(self):
        if self.drv:
            self.drv.close()
        if self.floor:
            self.floor.close()
        # our portmap's connect() rewrite entries are keyed by this netns,
        # whose containers are not DEL'd one by one: drop them with it
        sh("ip netns exec %s %s clear" % (self.name, os.path.join(BUILD, "socklbctl")), check=False)
        sh("ip netns del %s" % self.name, check=False)
        # container netns files of this run (the mounts lived in the helpers'
        # private mount namespaces and are gone with them)
        for f in os.listdir("/run/netns"):
            if f.startswith("cb" + RID) or f.startswith("f" + RID):
                try:
                    os.unlink(os.path.join("/run/netns", f))
                except OSError:
                    pass


def parse_ok(ans):
    f = ans.split()
    if f[0] != "ok":
        raise RuntimeError(ans)
    return f[1:]


def pct(xs, q):
    xs = sorted(xs)
    if not xs:
        return None
    k = (len(xs) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def blockstats(samples, blocks):
    """samples: list of ms in time order -> per-block p50/p95, summarised."""
    if not samples:
        return None
    n = max(1, len(samples) // blocks)
    chunks = [samples[i * n:(i + 1) * n] for i in range(blocks) if samples[i * n:(i + 1) * n]]
    p50 = [pct(c, 0.5) for c in chunks]
    p95 = [pct(c, 0.95) for c in chunks]
    return {"p50": statistics.median(p50), "p50_min": min(p50), "p50_max": max(p50),
            "p95": statistics.median(p95), "p95_min": min(p95), "p95_max": max(p95),
            "n": len(samples), "runs": len(chunks)}


# ---------------------------------------------------------------- stages
def suite_params(ci, si, work):
    s = SUITES[si]
    return {"br": "cb%s%s%d" % (RID, "or"[si], ci), "master": "cbm%s%s%d" % (RID, "or"[si], ci),
            "v4": "10.%d.0.0/16" % (100 + ci * 10 + si), "v6": "fd00:cb:%d:%d::/64" % (ci, si),
            "data": os.path.join(work, "ipam-%s-%d" % (s, ci))}


def write_conf(confdir, name, plugins):
    os.makedirs(confdir, exist_ok=True)
    with open(os.path.join(confdir, name + ".conflist"), "w") as f:
        json.dump({"cniVersion": "1.0.0", "name": name, "plugins": plugins}, f)


def make_wrapdir(work, suite_dir, tag):
    d = os.path.join(work, "wrap-" + tag)
    os.makedirs(d, exist_ok=True)
    os.symlink(suite_dir, os.path.join(d, ".real"))
    for p in os.listdir(suite_dir):
        if os.access(os.path.join(suite_dir, p), os.X_OK) and not p.startswith("."):
            os.symlink(os.path.join(BUILD, "runru"), os.path.join(d, p))
    return d


def stage_chains(work, res):
    out = res.setdefault("chains", {})
    for ci, (cname, title, builder, port, fmode) in enumerate(CHAINS):
        if cname not in SEL:
            continue
        ent = out[cname] = {"title": title, "plugins": None, "missing": {}, "points": {}, "floor_mode": fmode}
        cw = os.path.join(work, "chain-" + cname)
        os.makedirs(cw)
        params = [suite_params(ci, si, cw) for si in range(2)]
        nets = ["c%s%d%s" % (RID, ci, s[0]) for s in SUITES]
        confdir = os.path.join(cw, "net.d")
        for si in range(2):
            write_conf(confdir, nets[si], builder(params[si]))
        types = plugin_types(builder(params[0]))
        ent["plugins"] = types
        active = []
        for si, s in enumerate(SUITES):
            d = OURS if s == "ours" else REF
            miss = [t for t in types if not os.access(os.path.join(d, t), os.X_OK)]
            if miss:
                ent["missing"][s] = miss
                log("%s: %s not built yet: %s" % (cname, s, " ".join(miss)))
            else:
                active.append(si)
        if not active:
            continue
        rlog = os.path.join(cw, "runru.log")
        # One host netns per suite and one for the floor: a node runs one
        # suite, and N containers of the other suite (their host veths,
        # IPv6 routes and link events) must not be charged to this one.
        hosts = {}
        try:
            for si in active:
                hosts[si] = Host("c%d%s" % (ci, "or"[si]), cw, floor=False, runru_log=rlog)
            fhost = hosts["f"] = Host("c%df" % ci, cw, drv=False)
            for si in range(2):
                s = SUITES[si]
                d = OURS if s == "ours" else REF
                if si not in hosts:
                    continue
                host = hosts[si]
                host.drv.cmd("suite %s %s %s %s" % (s, d, os.path.join(cw, "cache-" + s), confdir))
                host.drv.cmd("suite %s-ru %s %s %s" % (s, make_wrapdir(cw, d, s), os.path.join(cw, "cache-" + s), confdir))
                if cname == "macvlan":
                    m = params[si]["master"]
                    host.exec("ip link add %s type veth peer name %sp" % (m, m))
                    host.exec("ip link set %s up && ip link set %sp up" % (m, m))
            fl_net = "10.%d.%d" % (200 + ci, 0)
            fhost.floor.cmd("setup %s f%s%d %s" % (fmode, RID, ci, fl_net))
            counters = [0, 0]

            def capargs(si, idx):
                if not port:
                    return "-"
                return json.dumps({"portMappings": [{"hostPort": 20000 + idx, "containerPort": 80,
                                                     "protocol": "tcp"}]}, separators=(",", ":"))

            def nsname(si, idx):
                return "cb%s%s%d_%d" % (RID, "or"[si], ci, idx)

            attached = 0
            errors = {s: [] for s in SUITES}
            for N in NS:
                # populate each active suite (and the floor) up to N, suites
                # alternating in chunks, FILL_WORKERS concurrent ADDs each
                t0 = time.time()
                while attached < N:
                    step = min(50, N - attached)
                    for si in active:
                        batch = []
                        for _ in range(step):
                            counters[si] += 1
                            idx = counters[si]
                            hosts[si].drv.cmd("nsadd " + nsname(si, idx))
                            batch.append("%s|%s" % (nsname(si, idx), capargs(si, idx)))
                        a = hosts[si].drv.cmd("fill %s %s %d %s" % (SUITES[si], nets[si], FILL_WORKERS, ";".join(batch)))
                        if not a.startswith("ok"):
                            errors[SUITES[si]].append("populate: " + a)
                    attached += step
                fhost.floor.cmd("pop %d" % (N - ent.get("floor_n", 0)))
                ent["floor_n"] = N
                log("%s: N=%d attached in %.1fs; sampling" % (cname, N, time.time() - t0))
                pt = {s: {rt: {"add": [], "del": [], "add_cpu": [], "del_cpu": []} for rt in ("libcni", "cnitool")}
                      for s in SUITES}
                pt["floor"] = {"add": [], "del": [], "ns_create": []}
                per_block = max(1, SAMPLES // BLOCKS)
                pending = []  # sampled netns, removed in bulk at the end of each run
                t_pt = time.time()
                for k in range(SAMPLES):
                    if k >= 3 * BLOCKS and time.time() - t_pt > POINT_SECS:
                        log("%s: N=%d: time cap after %d samples" % (cname, N, k))
                        break
                    if k and k % per_block == 0:
                        flush(hosts, pending)
                    order = active if k % 2 == 0 else active[::-1]
                    for rt in ("libcni", "cnitool"):
                        for si in order:
                            s = SUITES[si]
                            counters[si] += 1
                            idx = counters[si]
                            nn = nsname(si, idx)
                            drv = hosts[si].drv
                            drv.cmd("nsadd " + nn)
                            pre = "" if rt == "libcni" else "c"
                            a = drv.cmd("%sadd %s %s %s %s" % (pre, s, nets[si], nn, capargs(si, idx)))
                            d = drv.cmd("%sdel %s %s %s %s" % (pre, s, nets[si], nn, capargs(si, idx)))
                            pending.append((si, nn))
                            for op, ans in (("add", a), ("del", d)):
                                if ans.startswith("ok"):
                                    f = parse_ok(ans)
                                    pt[s][rt][op].append(int(f[0]) / 1e6)
                                    pt[s][rt][op + "_cpu"].append(int(f[1]) / 1e3)
                                else:
                                    errors[s].append("%s %s: %s" % (rt, op, ans))
                    f = parse_ok(fhost.floor.cmd("sample"))
                    for key, v in zip(("add", "del", "ns_create"), f):
                        pt["floor"][key].append(int(v) / 1e6)
                flush(hosts, pending)
                summ = {}
                for s in SUITES:
                    summ[s] = {}
                    for rt in ("libcni", "cnitool"):
                        summ[s][rt] = {op: blockstats(v, BLOCKS) for op, v in pt[s][rt].items()}
                summ["floor"] = {op: blockstats(v, BLOCKS) for op, v in pt["floor"].items()}
                summ["raw"] = pt
                ent["points"][str(N)] = summ
                # per plugin invocation cost, once per chain at the first N
                if N == NS[0] and "rusage" not in SKIP:
                    for k in range(RUSAGE_SAMPLES):
                        for si in active:
                            counters[si] += 1
                            idx = counters[si]
                            nn = nsname(si, idx)
                            drv = hosts[si].drv
                            drv.cmd("nsadd " + nn)
                            drv.cmd("add %s-ru %s %s %s" % (SUITES[si], nets[si], nn, capargs(si, idx)))
                            drv.cmd("del %s-ru %s %s %s" % (SUITES[si], nets[si], nn, capargs(si, idx)))
                            drv.cmd("nsdel " + nn)
            ent["errors"] = {s: e[:20] for s, e in errors.items()}
            ent["error_count"] = {s: len(e) for s, e in errors.items()}
            ent["rusage"] = parse_runru(rlog, cw)
        finally:
            for h in hosts.values():
                h.close()
        settle(attached)


def flush(hosts, pending):
    """Remove the sampled netns (runtime's job, untimed) in bulk, then let
    the kernel's asynchronous cleanup_net run before the next samples, so
    no DEL (ours, theirs or the floor's) waits behind it."""
    for si, nn in pending:
        hosts[si].drv.cmd("nsdel " + nn)
    del pending[:]
    hosts["f"].floor.cmd("flush")
    time.sleep(0.3)


def settle(attached):
    # the kernel tears the stage's namespaces down asynchronously; give it
    # time so the next stage does not measure someone else's cleanup
    time.sleep(min(20, 1 + attached / 100))


def parse_runru(path, cw):
    """-> {suite: {plugin: {cmd: {maxrss_kib: [...], cpu_ms: [...], wall_ms: [...]}}}}"""
    if not os.path.exists(path):
        return {}
    rows = []
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) == 10:
                rows.append({"name": p[0], "cmd": p[1], "wall": int(p[2]), "cpu": int(p[3]) + int(p[4]),
                             "rss": int(p[5]), "pid": int(p[6]), "ppid": int(p[7]), "status": int(p[8]),
                             "suite": os.path.basename(p[9])[len("wrap-"):]})
    by_pid = {r["pid"]: r for r in rows}
    for r in rows:  # subtract delegated children (nested runru entries) from CPU
        parent = by_pid.get(r["ppid"])
        if parent:
            parent.setdefault("kids", 0)
            parent["kids"] += r["cpu"]
    return rows_by_suite(rows)


def rows_by_suite(rows):
    out = {}
    for r in rows:
        s = r.get("suite", "?")
        d = out.setdefault(s, {}).setdefault(r["name"], {}).setdefault(r["cmd"], {"maxrss_kib": [], "cpu_ms": [], "wall_ms": [], "cpu_incl_ms": []})
        d["maxrss_kib"].append(r["rss"])
        d["cpu_ms"].append((r["cpu"] - r.get("kids", 0)) / 1e3)
        d["cpu_incl_ms"].append(r["cpu"] / 1e3)
        d["wall_ms"].append(r["wall"] / 1e6)
    return out


def stage_par(work, res):
    """PAR concurrent libcni ADDs of the bridge+host-local chain on one network."""
    cw = os.path.join(work, "par")
    os.makedirs(cw)
    host = Host("p", cw, floor=False)
    out = res["par"] = {"n": PAR}
    confdir = os.path.join(cw, "net.d")
    try:
        for si, s in enumerate(SUITES):
            d = OURS if s == "ours" else REF
            p = suite_params(5, si, cw)
            plugins = conf_bridge(p)
            miss = [t for t in plugin_types(plugins) if not os.access(os.path.join(d, t), os.X_OK)]
            if miss:
                out[s] = {"missing": miss}
                continue
            net = "p%s%s" % (RID, s[0])
            write_conf(confdir, net, plugins)
            host.drv.cmd("suite %s %s %s %s" % (s, d, os.path.join(cw, "cache-" + s), confdir))
            names = ["cb%sp%s_%d" % (RID, s[0], i) for i in range(PAR)]
            for n in names:
                host.drv.cmd("nsadd " + n)
            # one warm-up attach so the bridge exists (both suites alike)
            host.drv.cmd("nsadd cb%sp%s_w" % (RID, s[0]))
            host.drv.cmd("add %s %s cb%sp%s_w -" % (s, net, RID, s[0]))
            f = parse_ok(host.drv.cmd("par %s %s - %s" % (s, net, ",".join(names))))
            wall = int(f[0]) / 1e6
            ips = [x for x in f[2].split(",") if x not in ("-", "")]
            out[s] = {"wall_ms": wall, "errors": int(f[1]), "ips": len(ips), "distinct": len(set(ips)),
                      "adds_per_s": (PAR - int(f[1])) / (wall / 1e3)}
            log("par %s: %d ADDs in %.0f ms, %d errors, %d distinct of %d" % (s, PAR, wall, int(f[1]), len(set(ips)), len(ips)))
    finally:
        host.close()
    settle(PAR * 2)


def conf_meta(p):
    """The bridge chain with both meta plugins behind it (limits far above
    what one ADD sends, so only their own cost is measured)."""
    pl = conf_bridge(p)
    pl.append({"type": "bandwidth", "ingressRate": 1000000000, "ingressBurst": 8000000,
               "egressRate": 1000000000, "egressBurst": 8000000})
    pl.append({"type": "tuning", "dataDir": p["data"] + "-tuning", "mtu": 1400,
               "sysctl": {"net.ipv4.conf.IFNAME.arp_filter": "1"}})
    return pl


def stage_meta(work, res):
    """bridge + host-local + bandwidth + tuning, one container at a time
    through libcni: ADD/DEL latency of both suites (alternating) and the
    per-invocation cost of each plugin."""
    cw = os.path.join(work, "meta")
    os.makedirs(cw)
    rlog = os.path.join(cw, "runru.log")
    host = Host("m", cw, floor=False, runru_log=rlog)
    out = res["meta"] = {"title": "bridge + host-local + bandwidth + tuning", "points": {}, "missing": {},
                         "errors": []}
    confdir = os.path.join(cw, "net.d")
    names = []
    try:
        active = []
        for si, s in enumerate(SUITES):
            d = OURS if s == "ours" else REF
            plugins = conf_meta(suite_params(6, si, cw))
            miss = [t for t in plugin_types(plugins) if not os.access(os.path.join(d, t), os.X_OK)]
            if miss:
                out["missing"][s] = miss
                continue
            net = "m%s%s" % (RID, s[0])
            write_conf(confdir, net, plugins)
            cache = os.path.join(cw, "cache-" + s)
            host.drv.cmd("suite %s %s %s %s" % (s, d, cache, confdir))
            host.drv.cmd("suite %s-ru %s %s %s" % (s, make_wrapdir(cw, d, s), cache, confdir))
            active.append((s, net))
        lat = {s: {"add": [], "del": []} for s, _ in active}
        for i in range(SAMPLES):
            for s, net in (active if i % 2 == 0 else active[::-1]):
                nn = "cb%sm%s_%d" % (RID, s[0], len(names))
                names.append(nn)
                host.drv.cmd("nsadd " + nn)
                a = host.drv.cmd("add %s %s %s -" % (s, net, nn))
                dl = host.drv.cmd("del %s %s %s -" % (s, net, nn))
                for op, ans in (("add", a), ("del", dl)):
                    if ans.startswith("ok"):
                        lat[s][op].append(int(parse_ok(ans)[0]) / 1e6)
                    else:
                        out["errors"].append("%s %s: %s" % (s, op, ans))
        for s in lat:
            out["points"][s] = {op: blockstats(v, BLOCKS) for op, v in lat[s].items()}
        for k in range(RUSAGE_SAMPLES):
            for s, net in active:
                nn = "cb%sm%s_r%d" % (RID, s[0], k)
                names.append(nn)
                host.drv.cmd("nsadd " + nn)
                host.drv.cmd("add %s-ru %s %s -" % (s, net, nn))
                host.drv.cmd("del %s-ru %s %s -" % (s, net, nn))
        out["rusage"] = parse_runru(rlog, cw)
        for s in lat:
            st = out["points"][s]
            if st.get("add"):
                log("meta %s: ADD p50 %.2f ms, DEL p50 %.2f ms" % (s, st["add"]["p50"], (st.get("del") or {}).get("p50", 0)))
    finally:
        for nn in names:
            host.drv.cmd("nsdel " + nn)
        host.close()
    settle(len(names))


def stage_hostlocal(work, res):
    """host-local alone, run directly, at HL existing allocations."""
    out = res["hostlocal"] = {}
    n_samples = 6 if QUICK else 20
    for s in SUITES:
        d = OURS if s == "ours" else REF
        if not os.access(os.path.join(d, "host-local"), os.X_OK):
            out[s] = {"missing": ["host-local"]}
    nsn = "cb%shl" % RID
    sh("ip netns add " + nsn)
    try:
        for size in HL:
            hostlocal_size(work, out, size, n_samples, "/run/netns/" + nsn)
    finally:
        sh("ip netns del " + nsn, check=False)


def hostlocal_size(work, out, size, n_samples, netns):
    pts = {s: {"add": [], "del": [], "add_rss": [], "del_rss": [], "add_cpu": [], "del_cpu": []} for s in SUITES}
    data = {}
    for s in SUITES:
        if s in out:
            continue
        dd = tempfile.mkdtemp(prefix="hl-%s-" % s, dir=work)
        netd = os.path.join(dd, "hl")
        os.makedirs(netd)
        # reference on-disk format: <dataDir>/<net>/<ip> = "<cid>\r\n<ifname>"
        for i in range(size):
            ip = "10.120.%d.%d" % ((i + 2) // 256, (i + 2) % 256)
            with open(os.path.join(netd, ip), "w") as f:
                f.write("prepop%06d\r\neth0" % i)
        last = "10.120.%d.%d" % ((size + 1) // 256, (size + 1) % 256)
        with open(os.path.join(netd, "last_reserved_ip.0"), "w") as f:
            f.write(last)
        data[s] = dd
    wrap = {s: make_wrapdir(os.path.join(work, "hlw-%d" % size), OURS if s == "ours" else REF, s) for s in data}
    rlog = os.path.join(work, "hl-%d.log" % size)
    for k in range(n_samples + 1):  # sample 0 is a warm-up (index rebuild, page cache)
        for s in (list(data) if k % 2 == 0 else list(data)[::-1]):
            conf = json.dumps({"cniVersion": "1.0.0", "name": "hl", "type": "host-local",
                               "ipam": {"type": "host-local", "dataDir": data[s],
                                        "ranges": [[{"subnet": "10.120.0.0/16"}]]}})
            for cmd in ("ADD", "DEL"):
                env = {"PATH": os.environ["PATH"], "CNI_COMMAND": cmd, "CNI_CONTAINERID": "bench%d" % k,
                       "CNI_NETNS": netns, "CNI_IFNAME": "eth0", "CNI_PATH": wrap[s],
                       "RUNRU_LOG": rlog}
                open(rlog, "w").close()
                r = subprocess.run([os.path.join(wrap[s], "host-local")], input=conf, env=env,
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    out.setdefault("errors", []).append("%s %s %d: %s" % (s, cmd, size, r.stdout.strip()[:200]))
                    continue
                with open(rlog) as f:
                    p = f.read().split()
                if k == 0 or len(p) != 10:
                    continue
                op = cmd.lower()
                pts[s][op].append(int(p[2]) / 1e6)
                pts[s][op + "_cpu"].append((int(p[3]) + int(p[4])) / 1e3)
                pts[s][op + "_rss"].append(int(p[5]))
    out[str(size)] = {s: {"add": blockstats(v["add"], BLOCKS), "del": blockstats(v["del"], BLOCKS),
                          "add_cpu": statistics.median(v["add_cpu"]) if v["add_cpu"] else None,
                          "del_cpu": statistics.median(v["del_cpu"]) if v["del_cpu"] else None,
                          "rss_kib": max(v["add_rss"] + v["del_rss"]) if v["add_rss"] else None}
                      for s, v in pts.items() if v["add"]}
    log("host-local at %d: %s" % (size, {s: round(v["add"]["p50"], 2) for s, v in out[str(size)].items()}))
    for dd in data.values():
        shutil.rmtree(dd, ignore_errors=True)


def stage_iperf(work, res):
    """Datapath: host loopback, host->container over the bridge, host->published
    port (ours: rewritten at connect(); the reference's DNAT), socat userland
    proxy, and from an outside netns routed through the host: container IP
    and published port (DNAT, both suites). All traffic stays inside the
    bench host netns and the netns made here."""
    out = res["iperf"] = {}
    if not shutil.which("iperf3"):
        out["missing"] = "iperf3"
        return
    cw = os.path.join(work, "iperf")
    os.makedirs(cw)
    host = Host("i", cw, floor=False)
    procs = []
    try:
        confdir = os.path.join(cw, "net.d")
        targets = {}
        for si, s in enumerate(SUITES):
            d = OURS if s == "ours" else REF
            p = suite_params(6, si, cw)
            plugins = conf_bridge(p, portmap=True)
            if any(not os.access(os.path.join(d, t), os.X_OK) for t in plugin_types(plugins)):
                continue
            net = "i%s%s" % (RID, s[0])
            write_conf(confdir, net, plugins)
            host.drv.cmd("suite %s %s %s %s" % (s, d, os.path.join(cw, "cache-" + s), confdir))
            nn = "cb%si%s" % (RID, s[0])
            host.drv.cmd("nsadd " + nn)
            hp = 15201 + si
            f = parse_ok(host.drv.cmd("add %s %s %s %s" % (s, net, nn, json.dumps(
                {"portMappings": [{"hostPort": hp, "containerPort": 5201, "protocol": "tcp"}]}, separators=(",", ":")))))
            cip = f[2].split(",")[0]
            gw = p["v4"].replace("0.0/16", "0.1")
            # the driver's netns mounts live in its private mount namespace:
            # reach the container through the driver's pid instead
            pid = host.drv.p.pid
            procs.append(subprocess.Popen(["nsenter", "--net=/proc/%d/root/run/netns/%s" % (pid, nn), "--",
                                           "iperf3", "-s", "-p", "5201"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            targets[s] = (cip, gw, hp)
        procs.append(subprocess.Popen(["ip", "netns", "exec", host.name, "iperf3", "-s", "-p", "5301"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        if "ours" in targets:
            cip, gw, hp = targets["ours"]
            procs.append(subprocess.Popen(["ip", "netns", "exec", host.name, "socat",
                                           "TCP-LISTEN:15300,fork,reuseaddr,bind=%s" % gw, "TCP:%s:5201" % cip],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        # another machine: a netns behind a veth to the bench host, routed
        # through it (its published-port traffic is DNAT'd in PREROUTING)
        outside = "cbh%sx" % RID
        sh("ip netns add %s && ip link add cbxh%s netns %s type veth peer name eth0 netns %s" %
           (outside, RID, host.name, outside))
        sh("ip -n %s addr add 10.99.0.1/24 dev cbxh%s && ip -n %s link set cbxh%s up && "
           "ip -n %s link set lo up && ip -n %s addr add 10.99.0.2/24 dev eth0 && ip -n %s link set eth0 up && "
           "ip -n %s route add default via 10.99.0.1" % ((host.name, RID) * 2 + (outside,) * 4))
        time.sleep(1)
        cases = [("host loopback", "127.0.0.1", 5301, host.name)]
        if "ours" in targets:
            cip, gw, hp = targets["ours"]
            cases += [("container IP over the bridge", cip, 5201, host.name),
                      ("published port, ours (connect() rewrite)", gw, hp, host.name),
                      ("socat userland proxy", gw, 15300, host.name),
                      ("container IP from outside", cip, 5201, outside),
                      ("published port from outside, ours (nft DNAT)", "10.99.0.1", hp, outside)]
        if "ref" in targets:
            cip, gw, hp = targets["ref"]
            cases += [("container IP over the bridge (ref network)", cip, 5201, host.name),
                      ("published port, reference (iptables DNAT)", gw, hp, host.name),
                      ("published port from outside, reference (iptables DNAT)", "10.99.0.1", hp, outside)]
        for c in cases:
            out[c[0]] = []
        for r in range(IPERF_RUNS):
            for name, ip, port, ns in (cases if r % 2 == 0 else cases[::-1]):
                p = subprocess.run(["ip", "netns", "exec", ns, "iperf3", "-J", "-P", "4", "-t", str(IPERF_SECS),
                                    "-c", ip, "-p", str(port)], check=False, text=True, capture_output=True)
                try:
                    gbps = json.loads(p.stdout)["end"]["sum_received"]["bits_per_second"] / 1e9
                    out[name].append(gbps)
                except Exception:
                    out.setdefault("errors", []).append("%s: %s" % (name, (p.stdout + p.stderr)[-200:]))
        log("iperf3: %s" % {k: [round(x, 1) for x in v] for k, v in out.items() if isinstance(v, list)})
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=5)
            except Exception:
                p.kill()
        sh("ip netns del cbh%sx" % RID, check=False)
        host.close()


def sizes(res):
    out, disk = {}, {}
    for s, d in (("ours", OURS), ("ref", REF)):
        m, seen = {}, {}
        if os.path.isdir(d):
            for p in sorted(os.listdir(d)):
                f = os.path.join(d, p)
                if p != "cnitool" and not p.startswith(".") and os.path.isfile(f) and os.access(f, os.X_OK):
                    st = os.stat(f)
                    m[p] = st.st_size
                    seen[(st.st_dev, st.st_ino)] = st.st_size  # hard links count once, as du does
        out[s] = m
        disk[s] = sum(seen.values())
    res["sizes"] = out
    res["sizes_disk"] = disk


def machine(res):
    def rd(p):
        try:
            return open(p).read().strip()
        except OSError:
            return "?"
    ver = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "containernetworking-plugins"],
                         capture_output=True, text=True).stdout
    res["machine"] = {"kernel": os.uname().release, "cpus": os.cpu_count(), "loadavg_start": rd("/proc/loadavg"),
                      "ref_version": ver, "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                      "git": subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"],
                                            capture_output=True, text=True).stdout.strip(),
                      "quick": QUICK, "N": NS, "samples": SAMPLES, "blocks": BLOCKS}


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    res = {}
    machine(res)
    sizes(res)
    work = tempfile.mkdtemp(prefix="cnic-bench-")
    t0 = time.time()

    def onsig(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, onsig)
    try:
        for stage, fn in (("chains", stage_chains), ("meta", stage_meta), ("par", stage_par),
                          ("hostlocal", stage_hostlocal), ("iperf", stage_iperf)):
            if stage in SKIP:
                continue
            ts = time.time()
            log("stage %s" % stage)
            try:
                fn(work, res)
            except KeyboardInterrupt:
                raise
            except Exception as e:  # a broken stage is reported, the others still run
                log("stage %s failed: %r" % (stage, e))
                res.setdefault("stage_errors", {})[stage] = repr(e)
            res.setdefault("stage_secs", {})[stage] = round(time.time() - ts, 1)
    finally:
        res["machine"]["loadavg_end"] = open("/proc/loadavg").read().strip()
        res["total_secs"] = round(time.time() - t0, 1)
        with open(os.path.join(outdir, "results.json"), "w") as f:
            json.dump(res, f, indent=1)
        shutil.rmtree(work, ignore_errors=True)
    log("done in %.0fs" % (time.time() - t0))


if __name__ == "__main__":
    main()
