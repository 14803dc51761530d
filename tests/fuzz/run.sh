#!/bin/sh
# SPDX-License-Identifier: MIT
# Run one fuzz target for a while: run.sh BUILD NAME SECONDS [libFuzzer args].
# New corpus entries go to BUILD/fuzz/corpus/NAME (the seeds in
# tests/fuzz/corpus/NAME are read, never written), crashes to
# BUILD/fuzz/artifacts/NAME-*. Prints executions, exec/s and coverage;
# exits non-zero (with the log tail) when the target crashed.
set -u
build=$1 name=$2 secs=$3
shift 3
bin=$build/fuzz/fuzz_$name
log=$build/fuzz/$name.log
mkdir -p "$build/fuzz/corpus/$name" "$build/fuzz/artifacts" "tests/fuzz/corpus/$name"
echo "== fuzz $name for $secs s"
if ! "$bin" -max_total_time="$secs" -print_final_stats=1 -timeout=20 -rss_limit_mb=2048 \
	-artifact_prefix="$build/fuzz/artifacts/$name-" "$@" \
	"$build/fuzz/corpus/$name" "tests/fuzz/corpus/$name" >"$log" 2>&1; then
	tail -60 "$log"
	echo "FAIL fuzz $name: see $log and $build/fuzz/artifacts/" >&2
	exit 1
fi
runs=$(LC_ALL=C sed -n 's/^stat::number_of_executed_units: *//p' "$log")
rate=$(LC_ALL=C sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
cov=$(grep -a -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1)
echo "OK  fuzz $name: $runs runs, $rate exec/s, $cov"
