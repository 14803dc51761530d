#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Check a raw disk image written by the kernel's soak (examples/x86_64/soak.c)
from the host side, independently of the kernel's own verification.

  imgcheck.py IMAGE BLOCK_SIZE SEED [--gen G] [--blocks N] [--skip LBA,...]

Every block must carry the soak header (magic "USOK", its own LBA, SEED) and,
for every 16th block, a correct checksum (FNV-1a over 64-bit words, the
checksum field as zero); with --gen, every block must be of generation G.
Prints a histogram of generations; exit status 1 on any violation.
"""
import argparse
import struct
import sys

MAGIC = 0x4B4F5355


def block_sum(b):
    h = 0xCBF29CE484222325
    words = struct.unpack("<%dQ" % (len(b) // 8), b)
    for i, w in enumerate(words):
        if i == 2:
            w &= 0xFFFFFFFF
        h = ((h ^ w) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return (h ^ (h >> 32)) & 0xFFFFFFFF


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("image")
    ap.add_argument("bs", type=int)
    ap.add_argument("seed", type=int)
    ap.add_argument("--gen", type=int)
    ap.add_argument("--blocks", type=int)
    ap.add_argument("--skip", default="")
    a = ap.parse_args()
    skip = {int(x) for x in a.skip.split(",") if x}
    gens = {}
    bad = []
    with open(a.image, "rb") as f:
        lba = 0
        while a.blocks is None or lba < a.blocks:
            b = f.read(a.bs)
            if len(b) < a.bs:
                break
            if lba not in skip:
                magic, gen, lba_lo, lba_hi, seed, csum = struct.unpack_from("<6I", b)
                why = None
                if magic != MAGIC:
                    why = "no soak header"
                elif (lba_hi << 32 | lba_lo) != lba:
                    why = "header names lba %d" % (lba_hi << 32 | lba_lo)
                elif seed != a.seed:
                    why = "seed %d" % seed
                elif a.gen is not None and gen != a.gen:
                    why = "generation %d, expected %d" % (gen, a.gen)
                elif lba % 16 == 0 and block_sum(b) != csum:
                    why = "checksum mismatch"
                if why:
                    bad.append((lba, why))
                else:
                    gens[gen] = gens.get(gen, 0) + 1
            lba += 1
    print("imgcheck: %s: %d blocks checked from the host: generations %s; %d bad%s" % (
        a.image, lba, " ".join("%d:%d" % kv for kv in sorted(gens.items())) or "-", len(bad),
        "".join("; lba %d %s" % x for x in bad[:5])))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
