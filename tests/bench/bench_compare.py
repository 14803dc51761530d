#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""uStor against Linux: usage bench_compare.py LINUX.txt USTOR_MEDIANS.txt

LINUX.txt holds run.sh RESULT lines, USTOR_MEDIANS.txt bench_summary.py MEDIAN
lines. Per device and job: the Linux engine with the most IOPS, uStor's and
raw's median, the ratios, and at QD1 uStor's p99 against Linux's p50."""
import sys


def kv(line):
    return dict(w.split("=", 1) for w in line.split() if "=" in w)


linux = {}
for line in open(sys.argv[1]):
    if not line.startswith("RESULT"):
        continue
    r = kv(line)
    dev = r["dev"]  # run.sh's configuration name, as bench-compare names uStor's rows
    key = (dev, r["job"])
    if key not in linux or float(r["iops"]) > float(linux[key]["iops"]):
        linux[key] = r
ours = {}
for line in open(sys.argv[2]):
    if line.startswith("MEDIAN"):
        r = kv(line)
        ours[(r["engine"], r["dev"], r["job"])] = r

print("\n| device | job | Linux best engine | Linux IOPS | Linux p50/p99 us | uStor IOPS | "
      "uStor p50/p99 us | raw IOPS | uStor/Linux | raw/Linux | QD1: uStor p99 < Linux p50 |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for (dev, job), L in sorted(linux.items()):
    u = ours.get(("ustor", dev, job))
    w = ours.get(("raw", dev, job))
    li = float(L["iops"])
    us = f"{float(u['iops']):.0f}" if u else "-"
    up = f"{u['p50']} / {u['p99']}" if u else "-"
    ws = f"{float(w['iops']):.0f}" if w else "-"
    ur = f"{float(u['iops']) / li:.1f}x" if u and li else "-"
    wr = f"{float(w['iops']) / li:.1f}x" if w and li else "-"
    q = "-"
    if job == "qd1" and u:
        q = f"{'yes' if float(u['p99']) < float(L['p50_us']) else 'no'} " \
            f"({u['p99']} vs {L['p50_us']})"
    print(f"| {dev} | {job} | {L['engine']} | {li:.0f} | {L['p50_us']} / {L['p99_us']} | {us} | "
          f"{up} | {ws} | {ur} | {wr} | {q} |")
