#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Medians over boots of the example kernel's bench=fio lines.

usage: bench_summary.py BOOT.log...
FIO lines give one row per (engine, device, job); RATIO lines are taken per
round (raw and uStor measured one after the other in the same boot) and their median printed;
SCALE lines likewise. With BENCH_MEDIANS=FILE, one MEDIAN line per row goes
there (for bench-compare)."""
import os
import re
import statistics
import sys

fio = re.compile(r"^FIO (\S+) (\S+) (\S+): IOPS=(\d+), BW=([\d.]+)MiB/s, clat \(usec\): "
                 r"min=([\d.]+), avg=([\d.]+), max=([\d.]+), p50=([\d.]+), p99=([\d.]+), "
                 r"p99\.9=([\d.]+), ios=(\d+), reads=\d+, writes=\d+, errors=(\d+)")
ratio = re.compile(r"^RATIO (\S+) (\S+): ustor/raw=([\d.]+)")
scale = re.compile(r"^SCALE (\S+) (\S+): 1 queue pair (\d+) IOPS, 2 queue pairs \(2 CPUs\) (\d+)")


def devname(d):
    return "nvme" if d.startswith("nvme") else "virtio" if d.startswith("vblk") else d


rows, order, ratios, scales = {}, [], {}, {}
for path in sys.argv[1:]:
    for line in open(path, errors="replace"):
        line = line.strip()
        m = fio.match(line)
        if m:
            key = (m.group(1), devname(m.group(2)), m.group(3))
            if key not in rows:
                rows[key] = []
                order.append(key)
            rows[key].append([float(x) for x in m.groups()[3:]])
            continue
        m = ratio.match(line)
        if m:
            ratios.setdefault((devname(m.group(1)), m.group(2)), []).append(float(m.group(3)))
            continue
        m = scale.match(line)
        if m:
            scales.setdefault((m.group(1), devname(m.group(2))), []).append(
                (int(m.group(3)), int(m.group(4))))

med = statistics.median
mfile = open(os.environ["BENCH_MEDIANS"], "w") if os.environ.get("BENCH_MEDIANS") else None
nb = len(sys.argv) - 1
print(f"\nMedians of {nb} boot(s) (x rounds); clat in microseconds (TSC); BW in MiB/s")
print(f"{'engine':6} {'device':6} {'job':8} {'IOPS':>9} {'min..max IOPS':>17} {'BW':>9} "
      f"{'min':>7} {'avg':>8} {'max':>9} {'p50':>7} {'p99':>8} {'p99.9':>8} {'errors':>6}")
for key in sorted(order, key=lambda k: (k[1], k[2], k[0] != "raw")):
    r = rows[key]
    col = lambda i: med([x[i] for x in r])
    iops = [x[0] for x in r]
    print(f"{key[0]:6} {key[1]:6} {key[2]:8} {col(0):9.0f} {min(iops):8.0f}..{max(iops):<8.0f} "
          f"{col(1):9.1f} {col(2):7.1f} {col(3):8.1f} {col(4):9.1f} {col(5):7.1f} {col(6):8.1f} "
          f"{col(7):8.1f} {sum(x[9] for x in r):6.0f}")
    if mfile:
        print(f"MEDIAN engine={key[0]} dev={key[1]} job={key[2]} iops={col(0):.0f} "
              f"bw={col(1):.1f} p50={col(5):.1f} p99={col(6):.1f} p999={col(7):.1f}", file=mfile)
print()
for (dev, job), v in sorted(ratios.items()):
    print(f"ratio {dev:6} {job:8} uStor/raw = {med(v):.2f} (median of {len(v)} same-round "
          f"ratios: {' '.join(f'{x:.2f}' for x in v)})")
for (eng, dev), v in sorted(scales.items()):
    one = med([a for a, _ in v])
    two = med([b for _, b in v])
    print(f"scale {eng:5} {dev:6} 1 queue pair {one:.0f} IOPS -> 2 queue pairs on 2 CPUs "
          f"{two:.0f} IOPS (x{med([b / a for a, b in v if a]):.2f})")
