"""The table of scripts/bench_ab: per layout, shape and thread count, the median over the two
rounds of each side's median ms, after/before, and oneDNN (median over all four runs)."""
import glob
import json
import math
import statistics
import sys

out = sys.argv[1]
runs = {}
for path in glob.glob(f"{out}/*.json"):
    side = path.split("/")[-1].split("_")[0]
    for r in json.load(open(path)):
        key = (r["data_format"], r["name"], r["threads"])
        runs.setdefault(key, {"before": [], "after": [], "onednn": [], "variant": ""})
        runs[key][side].append(r["halconv_ms"])
        if r.get("onednn_ms"):
            runs[key]["onednn"].append(r["onednn_ms"])
        if side == "after":
            runs[key]["variant"] = r["variant"]
print("| layout | shape | threads | variant (after) | before ms | after ms | after/before "
      "| oneDNN ms | oneDNN/after |")
print("|---|---|---|---|---|---|---|---|---|")
ratios = {}
for key in sorted(runs):
    v = runs[key]
    b, a = statistics.median(v["before"]), statistics.median(v["after"])
    o = statistics.median(v["onednn"]) if v["onednn"] else float("nan")
    ratios.setdefault((key[0], key[2]), []).append((a / b, o / a))
    print(f"| {key[0].split('_')[1]} | {key[1]} | {key[2]} | `{v['variant']}` | {b:.3f} | {a:.3f} "
          f"| {a / b:.2f} | {o:.3f} | {o / a:.2f} |")
print()
for (layout, threads), rs in sorted(ratios.items()):
    ab = math.exp(statistics.mean(math.log(r[0]) for r in rs))
    od = math.exp(statistics.mean(math.log(r[1]) for r in rs))
    print(f"- {layout}, {threads} thread(s): geomean after/before {ab:.3f}, "
          f"oneDNN/after {od:.3f} over {len(rs)} shapes")
