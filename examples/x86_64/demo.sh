#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# uStor demo: boot the x86_64 example kernel under QEMU on an emulated NVMe
# controller with two namespaces (512-byte and 4096-byte blocks) and a
# virtio-blk disk beside it, let it run its self-test and a short benchmark
# (NVMe in interrupt mode with MSI-X, virtio-blk polled), and print what it
# found.
#
# Run from anywhere: `make demo` (or `make -f examples/x86_64/kernel.mk demo`),
# or examples/x86_64/demo.sh after building the kernel.
# Environment: BUILD (default build), KERNEL, QEMU, ACCEL (tcg), TIMEOUT (60).
# shellcheck disable=SC2013 # `for x in $(sed ...)`: the words are device names
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
kernel=${KERNEL:-$build/x86_64-kernel/ustor-kernel.elf32}
case $kernel in /*) ;; *) kernel=$root/$kernel ;; esac
qemu=${QEMU:-qemu-system-x86_64}
dir=$build/demo
disk0=$dir/nvme-ns1.img
disk1=$dir/nvme-ns2.img
disk2=$dir/virtio-blk.img
log=$dir/serial.log

# ---- QEMU present? -----------------------------------------------------------
if ! command -v "$qemu" >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "demo: $qemu not found; installing qemu-system-x86 with apt-get"
		if ! { apt-get update -q &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q qemu-system-x86; }; then
			echo "demo: apt-get install qemu-system-x86 failed" >&2
			exit 1
		fi
	else
		echo "demo: $qemu not found. Install QEMU first, as root:" >&2
		echo "        apt-get install qemu-system-x86" >&2
		echo "      (or: sudo apt-get install qemu-system-x86), then run make demo again." >&2
		exit 1
	fi
fi
if [ ! -f "$kernel" ]; then
	make -C "$root" --no-print-directory -f examples/x86_64/kernel.mk BUILD="$build" kernel || exit 1
fi

# ---- Disk images -------------------------------------------------------------
# Namespace 1: 64 MiB, an MBR with one Linux partition at LBA 2048 and a
# greeting in the partition's first sector. Namespace 2: 32 MiB, empty.
# virtio-blk: 48 MiB, an MBR with one FAT32 (LBA) partition and its own
# greeting at LBA 2048.
mkdir -p "$dir"
rm -f "$disk0" "$disk1" "$disk2"
truncate -s 64M "$disk0" && truncate -s 32M "$disk1" && truncate -s 48M "$disk2" || exit 1
put() { # put <file> <byte offset> <printf format: text with octal escapes>
	# shellcheck disable=SC2059 # the format carries the bytes on purpose
	printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
# Disk identifier at 440.
put "$disk0" 440 '\165\123\164\157'
# Partition entry 1 at 446: not bootable, CHS 0/32/33, type 0x83 (Linux),
# CHS end "beyond 1024 cylinders", first LBA 2048, 129024 sectors.
put "$disk0" 446 '\000\040\041\000\203\376\377\377\000\010\000\000\000\370\001\000'
put "$disk0" 510 '\125\252' # boot signature 55 AA
greeting="Hello from uStor's demo disk, LBA 2048"
put "$disk0" $((2048 * 512)) "$greeting"'\000'
# Partition entry 1: type 0x0c (FAT32 LBA), first LBA 2048, 96256 sectors.
put "$disk2" 446 '\000\040\041\000\014\376\377\377\000\010\000\000\000\170\001\000'
put "$disk2" 510 '\125\252'
put "$disk2" $((2048 * 512)) "Hello from uStor's virtio-blk disk, LBA 2048"'\000'
sum_before=$(cat "$disk0" "$disk1" "$disk2" | md5sum)

# ---- Boot --------------------------------------------------------------------
echo "uStor demo: booting the x86_64 example kernel under QEMU (${ACCEL:-tcg}) ..."
start=$SECONDS
"$root/tests/qemu/selftest" -q -l "$log" -t "${TIMEOUT:-60}" -append "bench=qd1 peek=2048 irq=1" -- \
	-drive file="$disk0",if=none,id=ns1,format=raw \
	-drive file="$disk1",if=none,id=ns2,format=raw \
	-device nvme,id=nvme0,serial=USTOR-DEMO-0001 \
	-device nvme-ns,bus=nvme0,drive=ns1,nsid=1,logical_block_size=512,physical_block_size=512 \
	-device nvme-ns,bus=nvme0,drive=ns2,nsid=2,logical_block_size=4096,physical_block_size=4096 \
	-drive file="$disk2",if=none,id=vd0,format=raw \
	-device virtio-blk-pci,drive=vd0,serial=USTOR-DEMO-VBLK \
	>"$dir/selftest.out"
rc=$?
secs=$((SECONDS - start))
sum_after=$(cat "$disk0" "$disk1" "$disk2" | md5sum)

if [ ! -s "$log" ] || ! grep -q '^USTOR-DONE' "$log"; then
	cat "$dir/selftest.out"
	echo "demo: the kernel did not finish; serial log above" >&2
	exit 1
fi

# ---- Report ------------------------------------------------------------------
# Fields come from the kernel's USTOR-TEST lines (examples/x86_64/selftest.c).
detail() { # detail <device> <check>: the detail text of that check
	sed -n "s/^USTOR-TEST $1 $2 [A-Z]* //p" "$log" | head -1
}
result() { # result <device> <check>
	sed -n "s/^USTOR-TEST $1 $2 \([A-Z]*\).*/\1/p" "$log" | head -1
}
mark() {
	case $1 in PASS) echo "ok  " ;; FAIL) echo "FAIL" ;; SKIP) echo "skip" ;; *) echo "?   " ;; esac
}
throughput() { # throughput <device regex>: its USTOR-BENCH lines
	sed -n "s/^USTOR-BENCH \($1\) qd1 iops=\([0-9]*\) mibs=\([0-9.]*\) .*lat_us=\([0-9]*\).*/    \1    \2 IOPS  \3 MiB\/s  \4 us per read/p" "$log"
}

bold=$(printf '\033[1m'); plain=$(printf '\033[0m')
[ -t 1 ] || { bold=; plain=; }

echo
echo "${bold}uStor on QEMU NVMe and virtio-blk - what the example kernel found${plain}"
echo "------------------------------------------------------------------"
for ctrl in $(sed -n 's/^USTOR-TEST \(nvme[0-9]*\) init .*/\1/p' "$log"); do
	init=$(detail "$ctrl" init)
	if [ "$(result "$ctrl" init)" != PASS ]; then
		echo "Controller $ctrl: FAILED to start: $init"
		continue
	fi
	model=$(printf '%s' "$init" | sed -n 's/.*model "\([^"]*\)".*/\1/p')
	serial=$(printf '%s' "$init" | sed -n 's/.*serial "\([^"]*\)".*/\1/p')
	fw=$(printf '%s' "$init" | sed -n 's/.*firmware "\([^"]*\)".*/\1/p')
	rest=$(printf '%s' "$init" | sed -n 's/.*firmware "[^"]*", //p')
	echo "${bold}Controller $ctrl${plain}  $model, serial $serial, firmware $fw"
	echo "                  $rest"
	echo
	echo "  Namespaces"
	for ns in $(sed -n "s/^USTOR-TEST \(${ctrl}n[0-9]*\) identify .*/\1/p" "$log"); do
		id=$(detail "$ns" identify)
		cap=$(printf '%s' "$id" | sed -n 's/.* = \([^,]*\),.*/\1/p')
		geo=$(printf '%s' "$id" | sed -n 's/^\([0-9]* blocks x [0-9]* B\).*/\1/p')
		printf '    %-9s %-9s (%s)\n' "$ns" "$cap" "$geo"
	done
	echo
	echo "  Contents"
	for ns in $(sed -n "s/^USTOR-TEST \(${ctrl}n[0-9]*\) identify .*/\1/p" "$log"); do
		printf '    %-9s LBA 0: %s\n' "$ns" "$(detail "$ns" read0)"
		peek=$(detail "$ns" peek)
		case $peek in *holds\ \"*) printf '    %-9s %s\n' "$ns" "${peek/lba/LBA}" ;; esac
	done
	echo
	echo "  Checks (scratch region only; original data put back)"
	for ns in $(sed -n "s/^USTOR-TEST \(${ctrl}n[0-9]*\) identify .*/\1/p" "$log"); do
		for c in write-verify flush write-zeroes discard; do
			printf '    %s %-9s %-13s %s\n' "$(mark "$(result "$ns" $c)")" "$ns" "$c" \
				"$(detail "$ns" $c | sed -e 's/ (up to .*)$//' \
					-e 's/original contents restored/original restored/')"
		done
	done
	echo
	smart=$(detail "$ctrl" smart)
	temp=$(printf '%s' "$smart" | sed -n 's/.*temperature \(-\{0,1\}[0-9]* C\).*/\1/p')
	cw=$(printf '%s' "$smart" | sed -n 's/.*critical warning \(0x[0-9a-f]*\).*/\1/p')
	[ "$cw" = 0x00 ] && health="healthy (no critical warning)" || health="CRITICAL WARNING $cw"
	echo "  SMART health    $health, composite temperature $temp"
	echo "                  $(printf '%s' "$smart" | sed -n 's/.*\(power-on .*\)/\1/p')"
	irq=$(detail "$ctrl" irq)
	case $(result "$ctrl" irq) in
	PASS) irq=$(printf '%s' "$irq" | sed -n 's/^\([0-9]*\) MSI-X interrupts from the I\/O queues.*/\1 MSI-X interrupts from the I\/O queue(s) woke the CPU/p') ;;
	*) irq="$(result "$ctrl" irq): $irq" ;;
	esac
	echo "  Interrupts      $irq"
	echo "  Shutdown        $(detail "$ctrl" shutdown)"
	echo
	echo "  Throughput (queue depth 1, random 4 KiB reads for 1 s, emulated by QEMU TCG)"
	throughput "${ctrl}n[0-9]*"
done
# virtio-blk disks: each is its own device (init, checks, shutdown).
for vd in $(sed -n 's/^USTOR-TEST \(vblk[0-9]*\) init .*/\1/p' "$log"); do
	echo "------------------------------------------------------------------"
	init=$(detail "$vd" init)
	if [ "$(result "$vd" init)" != PASS ]; then
		echo "Disk $vd: FAILED to start: $init"
		continue
	fi
	# "virtio-blk over T, serial "S", N blocks x B (SIZE), features ..., queue Q of M
	# entries, max transfer X, completions polled, WHERE"
	transport=$(printf '%s' "$init" | sed -n 's/^virtio-blk over \(.*\), serial ".*/\1/p')
	serial=$(printf '%s' "$init" | sed -n 's/.*serial "\([^"]*\)".*/\1/p')
	geo=$(printf '%s' "$init" | sed -n 's/.*", \([0-9]* blocks x [0-9]* B\) (\([^)]*\)).*/\2 (\1)/p')
	queue=$(printf '%s' "$init" | sed -n 's/.*, \(queue [0-9]* of [0-9]* entries\), .*/\1/p')
	maxt=$(printf '%s' "$init" | sed -n 's/.*, max transfer \([^,]*\),.*/\1/p')
	where=$(printf '%s' "$init" | sed -n 's/.*completions polled, //p')
	feat=$(detail "$vd" identify | sed -n 's/.*features: *//p')
	echo "${bold}Disk $vd${plain}  virtio-blk over $transport, serial ${serial:-(none)} (GET_ID)"
	echo "                  $geo, $where"
	echo "                  $queue, max transfer $maxt per request, features: $feat"
	echo
	echo "  Contents"
	printf '    %-9s LBA 0: %s\n' "$vd" "$(detail "$vd" read0)"
	peek=$(detail "$vd" peek)
	case $peek in *holds\ \"*) printf '    %-9s %s\n' "$vd" "${peek/lba/LBA}" ;; esac
	echo
	echo "  Checks (scratch region only; original data put back)"
	for c in write-verify flush write-zeroes discard; do
		printf '    %s %-9s %-13s %s\n' "$(mark "$(result "$vd" $c)")" "$vd" "$c" \
			"$(detail "$vd" $c | sed -e 's/ (up to .*)$//' \
				-e 's/original contents restored/original restored/')"
	done
	echo
	echo "  Completions     polled (the demo boots without irq=1; with it, MSI-X per virtqueue)"
	echo "  Shutdown        $(detail "$vd" shutdown)"
	echo
	echo "  Throughput (queue depth 1, random 4 KiB reads for 1 s, emulated by QEMU TCG)"
	throughput "$vd"
done
echo "------------------------------------------------------------------"
done_line=$(grep '^USTOR-DONE' "$log" | tail -1)
if [ "$sum_before" = "$sum_after" ]; then
	integrity="disk images byte-for-byte unchanged afterwards"
else
	integrity="DISK IMAGES CHANGED (they should not)"
	rc=1
fi
if [ $rc = 0 ]; then
	echo "${bold}Result: PASS${plain}  ${done_line#USTOR-DONE }, ${secs} s, $integrity"
else
	echo "${bold}Result: FAIL${plain}  ${done_line#USTOR-DONE }, ${secs} s, $integrity"
	cat "$dir/selftest.out"
fi
echo "Full serial log: ${log#"$root"/}"
exit $rc
