#!/bin/sh
# SPDX-License-Identifier: MIT
# Instructions of library code (src/) per 4 KiB read at QD1 and QD32, counted
# by callgrind. Setup cost cancels out: each figure is
# (cost at N2 I/Os - cost at N1 I/Os) / (N2 - N1).
set -eu
bin=$1
out=${BUILD:-build}/bench
mkdir -p "$out"
if ! command -v valgrind >/dev/null 2>&1; then
	echo "bench-host: valgrind is missing (apt-get install valgrind)" >&2
	exit 1
fi

lib_ir() { # qd ios [mode] -> instructions spent in functions defined under src/
	f="$out/callgrind.$1.$2.${3:-plain}"
	valgrind --tool=callgrind --callgrind-out-file="$f" "$bin" "$1" "$2" "${3:-plain}" >/dev/null 2>&1
	callgrind_annotate --inclusive=no --threshold=100 "$f" 2>/dev/null |
		awk '/^ *[0-9,]+ +\( *[0-9.]+%\) +(src\/(core|ring|nvme|block|pci)|include\/ustor)\// { gsub(",", "", $1); s += $1 } END { print s + 0 }'
}

for qd in 1 32; do
	n1=2000
	n2=12000
	a=$(lib_ir "$qd" "$n1")
	b=$(lib_ir "$qd" "$n2")
	per=$(( (b - a) / (n2 - n1) ))
	ns=$("$bin" "$qd" 200000 | sed -n 's/.*ns_per_io=\([0-9]*\).*/\1/p')
	echo "bench-host: 4 KiB read QD$qd: $per instructions of library code per I/O (callgrind), $ns ns per I/O wall clock incl. model"
done

# Extra lines: QD32 batched (F_MORE on every submission, one ustor_block_kick
# per poll) and QD32 with statistics on.
for mode in batch stats; do
	n1=2000
	n2=12000
	a=$(lib_ir 32 "$n1" "$mode")
	b=$(lib_ir 32 "$n2" "$mode")
	per=$(( (b - a) / (n2 - n1) ))
	line=$("$bin" 32 200000 "$mode")
	ns=$(echo "$line" | sed -n 's/.*ns_per_io=\([0-9]*\).*/\1/p')
	db=$(echo "$line" | sed -n 's/.*doorbells_per_io=\([0-9.]*\).*/\1/p')
	case $mode in
	batch) what="batched (F_MORE + kick)" ;;
	stats) what="statistics on" ;;
	esac
	echo "bench-host: 4 KiB read QD32 $what: $per instructions of library code per I/O (callgrind), $ns ns per I/O wall clock incl. model, $db doorbell writes per I/O"
done
