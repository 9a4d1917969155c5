#!/usr/bin/env python3
"""Writes bench/RESULTS.md and bench/ratio.png from the benchmark's JSON records
(bench/results_nhwc.json, bench/results_nchw.json) and, when present, bench/peers.json.
Called by scripts/bench; standard library plus gnuplot."""
import datetime
import json
import math
import os
import platform
import subprocess

BENCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench")


def load(name):
    path = os.path.join(BENCH, name)
    return json.load(open(path)) if os.path.exists(path) else []


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def isa():
    flags = next((l for l in open("/proc/cpuinfo") if l.startswith("flags")), "")
    return "AVX-512" if " avx512f" in flags else "AVX2+FMA" if " avx2" in flags else "SSE"


def geomean(values):
    values = [v for v in values if v and v > 0]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def nchw_speed(record):
    """NHWC ms / NCHW ms of a channels_first record, timed in the same rounds."""
    if record.get("nhwc_halconv_ms") and record.get("halconv_ms"):
        return record["nhwc_halconv_ms"] / record["halconv_ms"]
    return None


def own_suite_section(nhwc, nchw):
    """bench/resnext.txt: ResNeXt-50's grouped layers beyond the ANCHORS one, same columns as the
    main table but the peers."""
    by_nchw = {(r["name"], r["threads"]): r for r in nchw}
    lines = [
        "",
        "## ResNeXt-50's other grouped layers (`bench/resnext.txt`, 32 groups, same run rules)",
        "",
        "| shape | threads | halconv variant | halconv ms | oneDNN ms | ratio | NCHW halconv ms |"
        " NCHW oneDNN ms | NCHW ratio | NCHW/NHWC speed |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in nhwc:
        c = by_nchw.get((r["name"], r["threads"]), {})
        lines.append(
            f"| {r['name']} | {r['threads']} | {r['variant']} | {fmt(r['halconv_ms'])} | "
            f"{fmt(r['onednn_ms'])} | {fmt(r['ratio'], '{:.2f}')} | {fmt(c.get('halconv_ms'))} | "
            f"{fmt(c.get('onednn_ms'))} | {fmt(c.get('ratio'), '{:.2f}')} | "
            f"{fmt(nchw_speed(c), '{:.2f}')} |")
    lines.append("")
    lines += [nhwc_summary(t, nhwc, "layers") for t in sorted({r["threads"] for r in nhwc})]
    return lines


def nhwc_summary(threads, records, noun):
    """The summary line of a table's NHWC ratios at one thread count."""
    ratios = [r["ratio"] for r in records if r["threads"] == threads]
    return (f"- {threads} thread(s), NHWC: geomean ratio {geomean(ratios):.2f}; halconv at least as "
            f"fast as oneDNN on {sum(x >= 1 for x in ratios)} of {len(ratios)} {noun}.")


def fmt(v, pattern="{:.3f}"):
    return pattern.format(v) if isinstance(v, (int, float)) else "-"


def main():
    nhwc, nchw, peers = load("results_nhwc.json"), load("results_nchw.json"), load("peers.json")
    by_nchw = {(r["name"], r["threads"]): r for r in nchw}
    by_peer = {(r["name"], r["threads"]): r for r in peers}
    peak = {r["threads"]: r["peak_gflops"] for r in nhwc}
    # Records from before the bench measured its peak again at the end have no second figure.
    peak_after = {r["threads"]: r.get("peak_gflops_after") for r in nhwc}
    lines = [
        "# Benchmark results",
        "",
        f"Date: {datetime.date.today()}. Machine: {cpu_model()}, {os.cpu_count()} cores, {isa()} "
        f"(the widest ISA this machine has; halconv dispatches to it). Measured fp32 FMA peak "
        "before the NHWC run's shapes (after them, in brackets: the machine's drift during the run): "
        + ", ".join(
            f"{peak[t]:.0f} GFLOP/s at {t} thread(s)"
            + (f" [{peak_after[t]:.0f}]" if peak_after[t] else "")
            for t in sorted(peak)
        )
        + ".",
        "",
        "Regenerate everything (this file, the JSON records, `bench/ratio.png`): `scripts/bench`.",
        "Times are medians in ms, halconv and oneDNN 2.6 measured in the same run, in alternating",
        "rounds (the machine's drift hits both alike), same user layout;",
        "ratio = oneDNN ms / halconv ms (above 1: halconv faster). oneDNN's per-call reorders count,",
        "its one-time weight reorder does not; it runs direct, Winograd and auto, the best counts.",
        "GFLOP/s and % peak count the direct algorithm's FLOPs (for Winograd variants: the effective",
        "rate). NCHW/NHWC speed = NHWC halconv ms / NCHW halconv ms, both timed in the same rounds of",
        "the channels_first run (1.00: channels_first users get the same speed).",
        "",
        "| shape | threads | halconv variant | halconv ms | GFLOP/s | % peak | oneDNN ms | ratio |"
        " NCHW variant | NCHW halconv ms | NCHW oneDNN ms | NCHW ratio | NCHW/NHWC speed | TF ms |"
        " PyTorch ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in nhwc:
        key = (r["name"], r["threads"])
        c = by_nchw.get(key, {})
        p = by_peer.get(key, {})
        lines.append(
            f"| {r['name']} | {r['threads']} | {r['variant']} | {fmt(r['halconv_ms'])} | "
            f"{fmt(r['gflops'], '{:.1f}')} | {fmt(r['pct_peak'], '{:.1f}')} | {fmt(r['onednn_ms'])} | "
            f"{fmt(r['ratio'], '{:.2f}')} | {c.get('variant', '-')} | {fmt(c.get('halconv_ms'))} | "
            f"{fmt(c.get('onednn_ms'))} | "
            f"{fmt(c.get('ratio'), '{:.2f}')} | {fmt(nchw_speed(c), '{:.2f}')} | "
            f"{fmt(p.get('tensorflow_ms'))} | {fmt(p.get('pytorch_ms'))} |")
    lines.append("")
    for t in sorted(peak):
        lines.append(nhwc_summary(t, nhwc, "shapes"))
        cs = [r for r in nchw if r["threads"] == t]
        if cs:
            speeds = [v for v in map(nchw_speed, cs) if v]
            lines.append(f"- {t} thread(s), NCHW: geomean ratio {geomean([r['ratio'] for r in cs]):.2f};"
                         f" NCHW/NHWC speed geomean {geomean(speeds):.2f}, at least 0.95 on "
                         f"{sum(x >= 0.95 for x in speeds)} of {len(speeds)} shapes.")
    own_nhwc, own_nchw = load("results_resnext_nhwc.json"), load("results_resnext_nchw.json")
    if own_nhwc:
        lines += own_suite_section(own_nhwc, own_nchw)
    rss = max([r.get("peak_rss_mb", 0) for r in nhwc + nchw + own_nhwc + own_nchw] or [0])
    lines += ["", f"Peak RSS of the benchmark process: {rss:.0f} MB.", ""]
    open(os.path.join(BENCH, "RESULTS.md"), "w").write("\n".join(lines))

    data = os.path.join(BENCH, "ratio.dat")
    with open(data, "w") as out:
        for r in nhwc:
            if r["threads"] == max(peak):
                c = by_nchw.get((r["name"], r["threads"]), {})
                out.write(f"{r['name']} {r['ratio'] or 0} {c.get('ratio') or 0}\n")
    script = f"""
set terminal png size 1200,600 noenhanced
set output '{os.path.join(BENCH, "ratio.png")}'
set title 'oneDNN time / halconv time at {max(peak)} threads (above 1: halconv faster)'
set style data histograms
set style fill solid 0.8
set xtics rotate by -45
set yrange [0:*]
set grid ytics
plot '{data}' using 2:xtic(1) title 'NHWC', '' using 3 title 'NCHW', 1 with lines lw 2 title 'parity'
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    os.remove(data)
    print("wrote bench/RESULTS.md and bench/ratio.png")


if __name__ == "__main__":
    main()
