#!/usr/bin/env python3
"""The race's table: medians over rounds of the raw JSON that bench/run.sh leaves, as Markdown."""
import argparse
import datetime
import glob
import json
import os
import re
import statistics
import subprocess

import flowchart


def load(raw, workload, kind):
    """Every round's JSON for one workload and server, in round order."""
    out = []
    paths = glob.glob(os.path.join(raw, f"{workload}-{kind}-*.json"))
    for path in sorted(paths, key=lambda p: int(re.search(r"-(\d+)\.json$", p).group(1))):
        try:
            with open(path) as f:
                out.append(json.load(f))
        except (OSError, ValueError):
            pass
    return out


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def delivered(d, duration):
    if "received" in d:
        return d["received"]
    return d.get("pps", 0) * d.get("seconds", duration)


def per_cpu(d, duration):
    cpu = d.get("server_cpu_s")
    if not cpu or cpu <= 0:
        return None
    return delivered(d, duration) / cpu


def fmt(v, unit="", digits=0):
    if v is None:
        return "n/a"
    if digits == 0:
        return f"{v:,.0f}{unit}"
    return f"{v:,.{digits}f}{unit}"


def ratio(a, b, digits=2):
    if a is None or b is None or b == 0:
        return "n/a"
    return f"{a / b:.{digits}f}x"


def md_rows(rows):
    """Markdown table lines, one per row of cells."""
    return ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]


def spread(values, unit="", digits=0):
    vals = [fmt(v, unit, digits) for v in values]
    return " / ".join(vals) if vals else "n/a"


def verdict(ok):
    if ok is None:
        return "n/a"
    return "yes" if ok else "**no**"


def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=False).stdout.strip() or "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        commit, dirty = "unknown", ""
    return model, commit + ("+dirty" if dirty else "")


def capacity_p99(d):
    """One-way p99 (ms) of the last ramp step within the limits, or None."""
    cap = d.get("ramp", {}).get("capacity_calls")
    for step in d.get("ramp", {}).get("steps", []):
        if step.get("calls") == cap:
            return (step.get("latency_us") or {}).get("p99", 0) / 1000
    return None


def first_line(path):
    try:
        with open(path) as f:
            return f.readline().strip()
    except OSError:
        return "n/a"


def loader_load(d, cpu_key="loader_setup_cpu_s", secs_key="setup_s"):
    """The loader's CPU-s per second (of set-up, by default): near 1.00 its one core was the
    limit, not the server."""
    if not d.get(secs_key) or cpu_key not in d:
        return None
    return d[cpu_key] / d[secs_key]


def signal_rows(raw):
    """Rows (metric, vc, peerjs, ratio, target, met) for the signal, conns and joins workloads."""
    rows = []
    sv, sp = load(raw, "signal", "vc"), load(raw, "signal", "peerjs")
    if sv or sp:
        mv = med([d.get("messages_per_cpu_s") for d in sv])
        mp = med([d.get("messages_per_cpu_s") for d in sp])
        ok = None if mv is None or mp is None else mv >= 3 * mp
        rows.append(("Relayed msgs per server CPU-s (100 rooms x 100/s)", fmt(mv), fmt(mp),
                     ratio(mv, mp), ">= 3x PeerJS", verdict(ok)))
        sc = load(raw, "signal", "tlsrelay")
        mc = med([d.get("messages_per_cpu_s") for d in sc])
        if mc:
            rows.append(("  the same through a bare TLS relay, the ceiling (tools/tlsrelay.c)",
                         fmt(mc), "", f"vc-signal {100 * mv / mc:.0f}% of it; 3x PeerJS is "
                         f"{100 * 3 * mp / mc:.0f}% of it" if mv and mp else "", "", ""))
        tv = med([d.get("messages_per_s") for d in sv])
        tp = med([d.get("messages_per_s") for d in sp])
        rows.append(("Relayed msgs/s (the loader's ceiling)", fmt(tv), fmt(tp), ratio(tv, tp),
                     "", ""))
        qv = med([d.get("relay_latency_ms", {}).get("p99") for d in sv])
        qp = med([d.get("relay_latency_ms", {}).get("p99") for d in sp])
        rows.append(("Relay latency p99 (ms)", fmt(qv, "", 1), fmt(qp, "", 1), ratio(qv, qp), "",
                     ""))
    for wl, label in (("conns", "held"), ("conns_big", "held, one round")):
        cv, cp = load(raw, wl, "vc"), load(raw, wl, "peerjs")
        if not (cv or cp):
            continue
        n = med([d.get("connections") for d in cv + cp]) or 0
        nv = med([d.get("new_conns_per_s") for d in cv])
        np_ = med([d.get("new_conns_per_s") for d in cp])
        ok = None if nv is None or np_ is None else nv >= 3 * np_
        rows.append((f"New connections/s, {n:,.0f} {label}", fmt(nv), fmt(np_), ratio(nv, np_),
                     ">= 3x PeerJS", verdict(ok)))

        def per_cpu_conn(d):
            cpu = d.get("server_cpu_total_s")
            return d.get("connections", 0) / cpu if cpu else None
        pv = med([per_cpu_conn(d) for d in cv])
        pp = med([per_cpu_conn(d) for d in cp])
        rows.append((f"New connections per server CPU-s, {n:,.0f} {label} (vc includes "
                     "room creation)", fmt(pv), fmt(pp), ratio(pv, pp), "", ""))
        pc = med([per_cpu_conn(d) for d in load(raw, wl, "tlsrelay")])
        if pc and pp:
            rows.append(("  the same through the bare TLS relay, the ceiling", fmt(pc), "",
                         f"3x PeerJS is {100 * 3 * pp / pc:.0f}% of it", "", ""))
        lv, lp = med(map(loader_load, cv)), med(map(loader_load, cp))
        if lv is not None or lp is not None:
            rows.append(("  loader CPU-s per second of set-up (1.00: its one core is full)",
                         fmt(lv, "", 2), fmt(lp, "", 2), "", "", ""))
        rv = med([d.get("rss_per_connection_kb") for d in cv])
        rp = med([d.get("rss_per_connection_kb") for d in cp])
        ok = None if rv is None else rv <= 24
        rows.append((f"Server RSS per connection, {n:,.0f} {label} (KiB)", fmt(rv, "", 1),
                     fmt(rp, "", 1), ratio(rv, rp), "<= 24 KiB", verdict(ok)))
        av = med([d.get("rooms_active") for d in cv])
        ap = med([d.get("rooms_active") for d in cp])
        rows.append((f"Rooms with both clients joined, {n:,.0f} {label}", fmt(av), fmt(ap), "",
                     "", ""))
    jv, jp = load(raw, "joins", "vc"), load(raw, "joins", "peerjs")
    if jv or jp:
        pv = med([d.get("join_latency_ms", {}).get("p95") for d in jv])
        pp = med([d.get("join_latency_ms", {}).get("p95") for d in jp])
        ok = None if pv is None else pv <= 150
        rows.append(("Join-to-joined p95 at 500 joins/s (ms; PeerJS: connect to OPEN)",
                     fmt(pv, "", 1), fmt(pp, "", 1), ratio(pv, pp), "<= 150 ms", verdict(ok)))
        lv, lp = med(map(loader_load, jv)), med(map(loader_load, jp))
        if lv is not None or lp is not None:
            rows.append(("  loader CPU-s per second of set-up (1.00: its one core is full)",
                         fmt(lv, "", 2), fmt(lp, "", 2), "", "", ""))
    for rate in (100, 500):
        wv = load(raw, f"watch{rate}", "vc")
        if not wv:
            continue
        p99 = med([d.get("latency_ms", {}).get("p99") for d in wv])
        ok = None if p99 is None else p99 <= 1000 and all(d.get("missed") == 0 for d in wv)
        rows.append((f"Dashboard: a change reaches it, p99 (ms; 50 rooms, 200 waiting, "
                     f"{rate} changes/s)", fmt(p99, "", 1), "", "", "<= 1,000 ms, none missed",
                     verdict(ok)))
        cpu = med([d.get("server_cpu_s") / d.get("changes") * 1e6
                   if d.get("server_cpu_s") and d.get("changes") else None for d in wv])
        rows.append(("  server CPU per change (us)", fmt(cpu, "", 0), "", "", "", ""))
    return rows


FLOWS = [("flood100", "100 allocations, flood, 160 B"),
         ("audio1000", "1,000 allocations x 50 pps, 160 B (audio)"),
         ("video300", "300 allocations x 100 pps, 1,000 B (video)"),
         ("audio5000", "5,000 allocations x 20 pps, 160 B"),
         ("single", "1 allocation, flood, 160 B (the easy case)")]


FLOW_KINDS = ("vc", "vcu", "coturn")
TAIL_WORKLOADS = ("audio1000", "audio5000")


def flows_cpu(runs):
    """Packets per machine CPU-second for every run of one workload, two ways. flows.c reports the
    machine's busy time less its own CPU; on loopback the kernel path relays inside the loader's
    sendmmsg, so that subtraction would remove the relaying too and make it look free. Instead:
    "all" counts every core's busy time, the loader's included (the same loader for every server:
    it compresses every ratio); "own" subtracts only the loader's own cost per packet, measured
    in the same workload's user-space runs (vc-turn without its kernel path, coturn), where the
    relaying happens in another process. Returns ([[all...] per kind], [[own...] per kind], the
    loader's own cost in us per packet)."""
    def total(d):
        m, l = d.get("machine_cpu_s"), d.get("loader_cpu_s")
        return None if m is None or l is None else m + l

    def per(d, cpu):
        return d.get("received", 0) / cpu if cpu and cpu > 0 else None
    own_us = med([d["loader_cpu_s"] / d["received"] * 1e6 for ds in runs[1:] for d in ds
                  if d.get("received") and d.get("loader_cpu_s") is not None])
    every = [[per(d, total(d)) for d in ds] for ds in runs]
    own = [[per(d, None if total(d) is None or own_us is None
                else total(d) - own_us * 1e-6 * d.get("received", 0)) for d in ds] for ds in runs]
    return every, own, own_us


def flows_rows(raw):
    """Rows for the many-flow table: one per workload, vc-turn with its kernel path (vc), the same
    with --kernel-path=false (vcu) and coturn side by side; and the same medians as data."""
    rows, data = [], []
    for wl, label in FLOWS:
        runs = [load(raw, f"flows_{wl}", k) for k in FLOW_KINDS]
        if not any(runs):
            continue

        def m(ds, key, sub=None):
            return med([(d.get(key) or {}).get(sub) if sub else d.get(key) for d in ds])
        every, own, own_us = flows_cpu(runs)
        per, per_own = [med(v) for v in every], [med(v) for v in own]
        data.append({"workload": wl, "label": label, "rounds": [len(ds) for ds in runs],
                     "loader_own_us_per_packet": own_us,
                     "servers": {k: {"delivered_pps": m(ds, "delivered_pps"),
                                     "loss_pct": m(ds, "loss_pct"),
                                     "latency_us": {q: m(ds, "latency_us", q)
                                                    for q in ("p50", "p99", "p999")},
                                     "latency_us_per_round": [d.get("latency_us") for d in ds],
                                     "server_cpu_s": m(ds, "server_cpu_s"),
                                     "per_machine_cpu_s": per[i],
                                     "per_machine_cpu_s_less_loader_own": per_own[i]}
                                 for i, (k, ds) in enumerate(zip(FLOW_KINDS, runs))}})

        def cell(key, digits=0):
            return " / ".join(fmt(m(ds, key), "", digits) for ds in runs)
        lat = lambda ds: "/".join(fmt(m(ds, "latency_us", q), "", 0) for q in ("p50", "p99", "p999"))
        rows.append((label, cell("delivered_pps"), cell("loss_pct", 3),
                     " / ".join(lat(ds) for ds in runs), cell("server_cpu_s", 2),
                     " / ".join(fmt(p) for p in per),
                     f"{ratio(per[0], per[2])} ({ratio(per[1], per[2])} in user space)",
                     " / ".join(fmt(p) for p in per_own),
                     f"{ratio(per_own[0], per_own[2])} ({ratio(per_own[1], per_own[2])})"))
    av, ac = load(raw, "allocrate", "vc"), load(raw, "allocrate", "coturn")
    if av or ac:
        rv, rc = med([d.get("per_s") for d in av]), med([d.get("per_s") for d in ac])
        okv = all(d.get("ready") == d.get("allocations") for d in av)
        kb = med([d.get("rss_per_allocation_kb") for d in av])
        cv, cc = (med([d.get("per_server_cpu_s") or None for d in x]) for x in (av, ac))
        rows.append(("5,000 allocations from one source address, vc-turn at its defaults "
                     f"(all set up: {'yes' if okv else 'no'}; RSS {fmt(kb, ' KiB', 2)} each; "
                     f"rounds {spread([d.get('per_s') for d in av])} / "
                     f"{spread([d.get('per_s') for d in ac])} per s)",
                     f"{fmt(rv)} / {fmt(rc)} per s", "", "", "",
                     f"{fmt(cv)} / {fmt(cc)} per server CPU-s", ratio(rv, rc) + " (>= 5x: "
                     f"{verdict(rv is not None and rc is not None and rv >= 5 * rc)})",
                     "", ratio(cv, cc) + " per server CPU-s"))
        data.append({"workload": "allocrate", "all_set_up": okv, "rss_per_allocation_kb": kb,
                     "per_s": {"vc": rv, "coturn": rc},
                     "per_server_cpu_s": {"vc": cv, "coturn": cc}})
    return rows, data


def tail_rows(data):
    """Issue 21's tail goal, round by round: vc-turn's (kernel path, as shipped) one-way p99 and
    p99.9 against coturn's in the same round, at 1,000 x 50 and 5,000 x 20 pps, loss under 0.1%."""
    rows = []
    for f in data:
        if f["workload"] not in TAIL_WORKLOADS:
            continue
        sv = f["servers"]
        for q, name in (("p99", "p99"), ("p999", "p99.9")):
            pairs = list(zip(*(((r or {}).get(q) for r in sv[k]["latency_us_per_round"])
                               for k in ("vc", "coturn"))))
            ok = bool(pairs) and all(a is not None and b is not None and a <= b for a, b in pairs)
            ok = ok and all((sv[k]["loss_pct"] or 0) < 0.1 for k in ("vc", "coturn"))
            rows.append((f["label"], name, " / ".join(fmt(a) for a, _ in pairs),
                         " / ".join(fmt(b) for _, b in pairs), verdict(ok)))
    return rows


def flows_headline(data):
    """One sentence: the range of vc-turn's ratio to coturn over the many-flow workloads (the
    single flow left out), with its kernel path and in user space, both ways of counting CPU."""
    def span(kind, key):
        rs = []
        for f in data:
            sv = f.get("servers") or {}
            if f["workload"] == "single" or not sv:
                continue
            a, b = (sv.get(kind) or {}).get(key), sv["coturn"].get(key)
            if a and b:
                rs.append(a / b)
        return f"{min(rs):.2f}-{max(rs):.2f}x" if rs else "n/a"
    every = "per_machine_cpu_s"
    return (f"**Headline: on the many-flow workloads vc-turn relays {span('vc', every)} coturn's "
            f"delivered packets per machine CPU-second with its kernel path ({span('vcu', every)} "
            "in user space), counting every core's busy time, the loader's included** (medians "
            "per workload; the single flow is a row, not the headline). Less the loader's own "
            "cost per packet the kernel path's ratios grow (last column), but what remains of the "
            "machine's CPU is then small and the estimate unsteady, most in the floods.")


def per_machine_cpu(d, less_loader):
    """Delivered packets per machine CPU-second (all cores, softirq included), optionally less the
    loader's own utime+stime."""
    cpu = d.get("machine_cpu_s")
    if cpu is None or cpu <= 0:
        return None
    if less_loader:
        cpu -= d.get("loader_cpu_s", 0)
    return d.get("received", 0) / cpu if cpu > 0 else None


def kernel_rows(raw):
    """Rows (metric, kernel, user space, coturn, kernel vs coturn, target, met) for `kernel`, and
    the per-round spreads."""
    kinds = ("vck", "vcu", "coturn")
    rows, details = [], []
    for wl, label in (("kflood", "Two hops, 100-allocation flood"),
                      ("kaudio", "Two hops, 1,000 allocations x 50 pps")):
        runs = [load(raw, wl, k) for k in kinds]
        if not any(runs):
            continue
        for less, how in ((False, "per machine CPU-s"), (True, "per machine CPU-s less the loader's")):
            vals = [[per_machine_cpu(d, less) for d in r] for r in runs]
            m = [med(v) for v in vals]
            ok = None if m[0] is None or m[2] is None else m[0] >= 2.5 * m[2]
            rows.append((f"{label}: delivered pkts {how}", *map(fmt, m), ratio(m[0], m[2]),
                         ">= 2.5x coturn", verdict(ok)))
            details.append((f"{label} pkts {how}", *(spread(v) for v in vals)))
        m = [med([d.get("pps") for d in r]) for r in runs]
        rows.append((f"{label}: delivered pkts/s", *map(fmt, m), ratio(m[0], m[2]), "", ""))
        m = [med([d.get("loss_pct") for d in r]) for r in runs]
        rows.append((f"{label}: loss %", *(fmt(v, "", 3) for v in m), "", "", ""))
        for q in ("p50", "p99"):
            vals = [[d.get("latency_us", {}).get(q) for d in r] for r in runs]
            m = [med(v) for v in vals]
            ok = None if q == "p50" or m[0] is None or m[1] is None else m[0] <= m[1]
            rows.append((f"{label}: one-way {q} (us)", *map(fmt, m), ratio(m[0], m[2]),
                         "<= user space" if q == "p99" else "", verdict(ok) if q == "p99" else ""))
            details.append((f"{label} one-way {q} (us)", *(spread(v) for v in vals)))
    runs = [load(raw, "krate", k) for k in kinds]
    if any(runs):
        def passing(d):
            return d.get("pps") if d.get("loss_pct", 100) <= 0.5 else None
        vals = [[passing(d) for d in r] for r in runs]
        m = [med(v) for v in vals]
        ok = None if m[0] is None or m[2] is None else m[0] >= 2 * m[2]
        rows.append(("Two hops: delivered pkts/s at <= 0.5% loss, 100 allocations", *map(fmt, m),
                     ratio(m[0], m[2]), ">= 2x coturn", verdict(ok)))
        details.append(("pkts/s at <= 0.5% loss", *(spread(v) for v in vals)))
    return rows, details


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--rounds", type=int, required=True)
    ap.add_argument("--duration", type=float, required=True)
    ap.add_argument("--loader", required=True)
    ap.add_argument("--elapsed", type=int, default=0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    dur = a.duration
    rows = []  # (metric, vc, coturn, fwd, ratio, target, met)
    details = []  # (metric, vc rounds, coturn rounds, fwd rounds)

    # 1. Flood, one server thread: delivered packets per server CPU-second.
    fv, fc, ff = (load(a.raw, "flood", k) for k in ("vc", "coturn", "fwd"))
    if fv or fc or ff:
        pv, pc, pf = ([per_cpu(d, dur) for d in x] for x in (fv, fc, ff))
        mv, mc, mf = med(pv), med(pc), med(pf)
        ok = None if mv is None or mc is None else mv >= 2.5 * mc
        pct = f"{100 * mv / mf:.0f}% of ceiling" if mv and mf else "n/a"
        rows.append(("Flood, 1 server thread (vc-turn in user space): delivered pkts per server "
                     "CPU-s", fmt(mv), fmt(mc),
                     fmt(mf), f"{ratio(mv, mc)}; {pct}", ">= 2.5x coturn", verdict(ok)))
        details.append(("flood pkts/CPU-s", spread(pv), spread(pc), spread(pf)))
        tv, tc, tf = (med([d.get("pps") for d in x]) for x in (fv, fc, ff))
        rows.append(("Flood, 1 server thread: delivered pkts/s", fmt(tv), fmt(tc), fmt(tf),
                     ratio(tv, tc), "", ""))
        cv, cc, cf = (med([d.get("server_cpu_s") for d in x]) for x in (fv, fc, ff))
        rows.append((f"Flood: server CPU-s per {dur:g} s run", fmt(cv, "", 2), fmt(cc, "", 2),
                     fmt(cf, "", 2), "", "", ""))
        lv, lc, lf = (med([d.get("loss_pct") for d in x]) for x in (fv, fc, ff))
        rows.append(("Flood: loss %", fmt(lv, "", 2), fmt(lc, "", 2), fmt(lf, "", 2), "", "", ""))
        details.append(("flood pkts/s", spread([d.get("pps") for d in fv]),
                        spread([d.get("pps") for d in fc]), spread([d.get("pps") for d in ff])))

    # 2. Highest rate delivered at <= 0.5% loss (default threads).
    rv, rc = load(a.raw, "rate_search", "vc"), load(a.raw, "rate_search", "coturn")
    if rv or rc:
        def passing(d):
            return d.get("pps") if d.get("loss_pct", 100) <= 0.5 else None
        pv, pc = [passing(d) for d in rv], [passing(d) for d in rc]
        mv, mc = med(pv), med(pc)
        ok = None if mv is None or mc is None else mv >= 2 * mc
        rows.append(("Delivered pkts/s at <= 0.5% loss (default threads, 4 flows)", fmt(mv),
                     fmt(mc), "", ratio(mv, mc), ">= 2x coturn", verdict(ok)))
        details.append(("pkts/s at <= 0.5% loss", spread(pv), spread(pc), ""))

    # 3. One-way latency at 20k pps.
    lv, lc = load(a.raw, "latency", "vc"), load(a.raw, "latency", "coturn")
    if lv or lc:
        for q, name in (("p50", "p50"), ("p99", "p99"), ("p999", "p99.9")):
            qv = med([d.get("latency_us", {}).get(q) for d in lv])
            qc = med([d.get("latency_us", {}).get(q) for d in lc])
            target, met = "", ""
            if q == "p99":
                target = "<= coturn"
                met = verdict(None if qv is None or qc is None else qv <= qc)
            rows.append((f"One-way latency {name} at 20k pps (us)", fmt(qv), fmt(qc), "",
                         ratio(qv, qc), target, met))
        details.append(("latency p99 us", spread([d.get("latency_us", {}).get("p99") for d in lv]),
                        spread([d.get("latency_us", {}).get("p99") for d in lc]), ""))
        xv = med([d.get("loss_pct") for d in lv])
        xc = med([d.get("loss_pct") for d in lc])
        rows.append(("Loss % at 20k pps", fmt(xv, "", 3), fmt(xc, "", 3), "", "", "", ""))

    # 4. Allocation set-up rate.
    av, ac = load(a.raw, "alloc", "vc"), load(a.raw, "alloc", "coturn")
    if av or ac:
        pv, pc = [d.get("alloc_per_s") for d in av], [d.get("alloc_per_s") for d in ac]
        mv, mc = med(pv), med(pc)
        ok = None if mv is None or mc is None else mv >= 5 * mc
        rows.append(("Allocate+delete per second (32 parallel clients)", fmt(mv), fmt(mc), "",
                     ratio(mv, mc), ">= 5x coturn", verdict(ok)))
        cv = med([d["allocations"] / d["server_cpu_s"] for d in av if d.get("server_cpu_s")])
        cc = med([d["allocations"] / d["server_cpu_s"] for d in ac if d.get("server_cpu_s")])
        rows.append(("Allocate+delete per server CPU-s", fmt(cv), fmt(cc), "", ratio(cv, cc), "",
                     ""))
        lv = med([loader_load(d, "loader_cpu_s", "seconds") for d in av])
        lc_ = med([loader_load(d, "loader_cpu_s", "seconds") for d in ac])
        if lv is not None or lc_ is not None:
            rows.append(("  loader CPU-s per second during it (1.00: its one core is full)",
                         fmt(lv, "", 2), fmt(lc_, "", 2), "", "", "", ""))
        details.append(("alloc/s", spread(pv), spread(pc), ""))

    # 5. User-space memory per allocation.
    mv_, mc_ = load(a.raw, "memory", "vc"), load(a.raw, "memory", "coturn")
    if mv_ or mc_:
        pv = [d.get("rss_per_alloc_bytes") for d in mv_ if d.get("allocations") == 2000]
        pc = [d.get("rss_per_alloc_bytes") for d in mc_ if d.get("allocations") == 2000]
        mv, mc = med(pv), med(pc)
        ok = None if mv is None else mv <= 4096
        rows.append(("Server RSS per allocation, 2000 held (bytes)", fmt(mv), fmt(mc), "",
                     ratio(mv, mc), "<= 4096", verdict(ok)))
        rv0 = med([d.get("server_rss_kb_before") for d in mv_])
        rc0 = med([d.get("server_rss_kb_before") for d in mc_])
        rows.append(("Server RSS at start (KiB)", fmt(rv0), fmt(rc0), "", "", "", ""))
        details.append(("RSS/alloc bytes", spread(pv), spread(pc), ""))

    # 6. Realistic calls (vc-load only).
    cv, cc = load(a.raw, "calls", "vc"), load(a.raw, "calls", "coturn")
    if cv or cc:
        def capacity(d):
            return d.get("ramp", {}).get("capacity_calls", d.get("calls"))
        mv, mc = med([capacity(d) for d in cv]), med([capacity(d) for d in cc])
        ok = None if mv is None or mc is None else mv >= 2 * mc
        rows.append(("Concurrent audio calls at < 0.5% loss (vc-load ramp)", fmt(mv), fmt(mc), "",
                     ratio(mv, mc), ">= 2x coturn", verdict(ok)))
    else:
        rows.append(("Concurrent audio calls at < 0.5% loss", "n/a", "n/a", "", "",
                     ">= 2x coturn", "not run (needs vc-load)"))

    # 6b. The same calls with each server held to the same CPU share (cgroup): the loader cannot
    # saturate coturn on 2 shared cores, but it can saturate a capped one.
    bv, bc = load(a.raw, "budget", "vc"), load(a.raw, "budget", "coturn")
    if bv or bc:
        pct = first_line(os.path.join(a.raw, "budget-cpu-pct.txt"))
        pv = [d.get("ramp", {}).get("capacity_calls") for d in bv]
        pc = [d.get("ramp", {}).get("capacity_calls") for d in bc]
        mv, mc = med(pv), med(pc)
        ok = None if mv is None or mc is None else mv >= 2 * mc
        rows.append((f"Concurrent audio calls at < 0.5% loss (p99 <= 400 ms), each server held "
                     f"to {pct}% of one core (vc-turn in user space)", fmt(mv), fmt(mc), "",
                     ratio(mv, mc),
                     ">= 2x coturn", verdict(ok)))
        rows.append(("  one-way p99 at that many calls (ms)", fmt(med(map(capacity_p99, bv)), "", 1),
                     fmt(med(map(capacity_p99, bc)), "", 1), "", "", "", ""))
        details.append((f"calls at {pct}% of a core", spread(pv), spread(pc), ""))

    # 7. Signalling over TLS: vc-signal against PeerJS (rows use the coturn column for PeerJS).
    srows = signal_rows(a.raw)
    frows, fdata = flows_rows(a.raw)
    krows, kdetails = kernel_rows(a.raw)

    model, commit = machine()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# The race: vc-turn against coturn (make bench)",
        "",
        f"{now}, commit {commit}, {os.cpu_count()} x {model}, loopback. "
        f"Medians of {a.rounds} rounds, {dur:g} s per run, servers in alternation; "
        f"flood loader: {a.loader}; whole run {a.elapsed} s.",
        "",
        f"Load before: {first_line(os.path.join(a.raw, 'load-before.txt'))}  ",
        f"Load after: {first_line(os.path.join(a.raw, 'load-after.txt'))}",
        "",
    ]
    if frows:
        lines += [
            flows_headline(fdata),
            "",
            "Many flows, one hop client -> relay -> peer (tools/flows.c; vc-turn with its kernel "
            "path / vc-turn with --kernel-path=false / coturn in each cell). Machine CPU is every "
            "core's busy time from /proc/stat, softirq included. On loopback the kernel path "
            "relays inside the loader's own sendmmsg (this kernel has no "
            "CONFIG_IRQ_TIME_ACCOUNTING), so subtracting the loader's measured CPU would make it "
            "look free: the first figure counts the loader in (the same loader for all three, so "
            "it compresses every ratio); the second subtracts the loader's own cost per packet "
            "as measured against the two user-space relays in the same workload "
            "(`loader_own_us_per_packet` in `latest.json`). Chart: `flows.svg` (the first "
            "figure); the same medians as data: `latest.json`.",
            "",
            "| workload | delivered pps | loss % | one-way p50/p99/p99.9 (us) | server CPU-s | "
            "pps per machine CPU-s | vc-turn vs coturn | the same less the loader's own | "
            "vc-turn vs coturn |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        lines += md_rows(frows)
        trows = tail_rows(fdata)
        if trows:
            lines += ["", "The audio tail, round by round (issue 21: vc-turn's one-way p99 and "
                      "p99.9 no worse than coturn's in every round, loss under 0.1%):", "",
                      "| workload | quantile | vc-turn (us) | coturn (us) | met |",
                      "|---|---|---|---|---|"]
            lines += md_rows(trows)
        lines += ["", "Other workloads:", ""]
    lines += [
        "| metric | vc-turn | coturn 4.6 | forwarder | vc-turn vs coturn | target | met |",
        "|---|---:|---:|---:|---|---|---|",
    ]
    lines += md_rows(rows)
    if krows:
        lines += [
            "",
            "Two hops (client A -> relay A -> relay B -> client B, both relays on one server, as "
            "when both browsers of a call relay; tools/flood.c): vc-turn with its kernel path, the "
            "same binary with `--kernel-path=false`, and coturn, each fresh per run, default "
            "threads (issue 22):",
            "",
            "| metric | vc-turn kernel | vc-turn user space | coturn 4.6 | kernel vs coturn | "
            "target | met |",
            "|---|---:|---:|---:|---|---|---|",
        ]
        lines += md_rows(krows)
        lines += ["", "| per round | kernel | user space | coturn |", "|---|---|---|---|"]
        lines += md_rows(kdetails)
        lines += [
            "",
            "Machine CPU is every core's busy time from /proc/stat (softirq included) over the run; "
            "this kernel has no CONFIG_IRQ_TIME_ACCOUNTING, so softirq work done while the "
            "loader's sendmmsg runs (on loopback: the whole receive path, and with the kernel "
            "path the relaying itself) is charged to the loader: the 'less the loader's' row "
            "therefore flatters the kernel path, and the plain machine row is the fair one.",
        ]
    if srows:
        lines += [
            "",
            "Signalling, both over TLS (vc-load signal; PeerJS is npm `peer`):",
            "",
            "| metric | vc-signal | PeerJS | vc-signal vs PeerJS | target | met |",
            "|---|---:|---:|---|---|---|",
        ]
        lines += md_rows(srows)
    lines += [
        "",
        "Per round (vc-turn | coturn | forwarder):",
        "",
        "| metric | vc-turn | coturn | forwarder |",
        "|---|---|---|---|",
    ]
    lines += md_rows(details)
    lines += [
        "",
        "Notes: a delivered packet crosses the server twice (client A -> relay A -> relay B -> "
        "client B); the forwarder is chained the same way (two receives and two sends per "
        "packet), so its figure is the kernel's ceiling for that path. Server CPU is "
        "utime+stime from /proc/PID/stat around each run; RSS from /proc/PID/status. "
        "Client and server share the machine's cores.",
        "",
    ]
    with open(a.out, "w") as f:
        f.write("\n".join(lines))
    outdir = os.path.dirname(a.out)
    with open(os.path.join(outdir, "latest.json"), "w") as f:
        json.dump({"date": now, "commit": commit, "cpus": os.cpu_count(), "model": model,
                   "rounds": a.rounds, "duration_s": dur, "flows": fdata,
                   "rows": [dict(zip(("metric", "vc", "coturn", "forwarder", "ratio", "target",
                                      "met"), r)) for r in rows],
                   "signal_rows": [dict(zip(("metric", "vc", "peerjs", "ratio", "target", "met"), r))
                                   for r in srows]}, f, indent=2)
        f.write("\n")
    if fdata:
        with open(os.path.join(outdir, "flows.svg"), "w") as f:
            f.write(flowchart.svg([d for d in fdata if "servers" in d]))


if __name__ == "__main__":
    main()
