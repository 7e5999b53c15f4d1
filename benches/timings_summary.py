"""Summarises a `cargo build --timings` report: wall time, summed unit time, and the units
(crates, build scripts folded in by name) that took longest.

Usage: python3 benches/timings_summary.py TARGET_DIR [N]
"""
import json, re, sys, glob
path = sorted(glob.glob(sys.argv[1] + "/cargo-timings/cargo-timing-*.html"))[-1]
html = open(path).read()
m = re.search(r"const UNIT_DATA = (\[.*?\]);\n", html, re.S)
units = json.loads(m.group(1))
total = max(u["start"] + u["duration"] for u in units)
cpu = sum(u["duration"] for u in units)
print(f"units {len(units)}, wall {total:.1f} s, summed unit time {cpu:.1f} s")
agg = {}
for u in units:
    key = u["name"] + (" (build script)" if "build-script" in u.get("target","") or u.get("mode")=="run-custom-build" else "")
    agg[key] = agg.get(key, 0) + u["duration"]
for name, d in sorted(agg.items(), key=lambda x: -x[1])[: int(sys.argv[2]) if len(sys.argv) > 2 else 20]:
    print(f"{d:7.1f} s  {100*d/cpu:5.1f}%  {name}")
