#!/bin/sh
# SPDX-License-Identifier: MIT
# virtio-blk: instructions of library code (src/, include/ustor/) per 4 KiB
# polled read at QD1 and QD32 on the model, counted by callgrind, for each
# ring variant. Setup cost cancels out: (cost at N2 - cost at N1) / (N2 - N1).
set -eu
bin=$1
out=${BUILD:-build}/bench
mkdir -p "$out"
if ! command -v valgrind >/dev/null 2>&1; then
	echo "bench-vblk-host: valgrind is missing (apt-get install valgrind)" >&2
	exit 1
fi
lib_ir() { # ring qd ios
	f="$out/callgrind.vblk.$1.$2.$3"
	valgrind --tool=callgrind --callgrind-out-file="$f" "$bin" "$2" "$3" "$1" >/dev/null 2>&1
	callgrind_annotate --inclusive=no --threshold=100 "$f" 2>/dev/null |
		awk '/^ *[0-9,]+ +\( *[0-9.]+%\) +(src|include\/ustor)\// { gsub(",", "", $1); s += $1 } END { print s + 0 }'
}
for ring in split plain packed; do
	for qd in 1 32; do
		a=$(lib_ir "$ring" "$qd" 2000)
		b=$(lib_ir "$ring" "$qd" 12000)
		echo "bench-vblk-host: $ring 4 KiB read QD$qd: $(( (b - a) / 10000 )) instructions of library code per I/O"
	done
done
