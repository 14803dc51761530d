#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Boot the x86_64 example kernel's serial shell (shell=1) under QEMU, on this
# terminal: COM1 is your keyboard and screen. Type `help`; leave with `exit`
# (shuts the controller down, QEMU exits) or Ctrl-C (QEMU ends at once).
#
#   examples/x86_64/shell.sh [kernel options...]     e.g.  irq=1 ro=1 log=info
#   make kernel-shell [KERNEL_SHELL_OPTS="irq=1 ..."]
#
# The disk is $BUILD/x86_64-kernel/shell-disk.img, 64 MiB, created on first
# use with an MBR boot signature; writes outside its last 64 blocks (the
# scratch region) need `force`, and they stay: delete the file to start over.
# Environment: BUILD (default build), KERNEL, QEMU, ACCEL (tcg).
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
kernel=${KERNEL:-$build/x86_64-kernel/ustor-kernel.elf32}
case $kernel in /*) ;; *) kernel=$root/$kernel ;; esac
qemu=${QEMU:-qemu-system-x86_64}
accel=${ACCEL:-tcg}
disk=$build/x86_64-kernel/shell-disk.img

command -v "$qemu" >/dev/null 2>&1 || { echo "shell: $qemu not found (apt-get install qemu-system-x86)" >&2; exit 1; }
if [ ! -f "$kernel" ]; then
	make -C "$root" --no-print-directory -f examples/x86_64/kernel.mk BUILD="$build" kernel || exit 1
fi
if [ ! -f "$disk" ]; then
	mkdir -p "$(dirname "$disk")"
	truncate -s 64M "$disk" || exit 1
	printf '\125\252' | dd of="$disk" bs=1 seek=510 conv=notrunc status=none
fi
accel_args=(-accel "$accel")
[ "$accel" = kvm ] && accel_args+=(-cpu host)

echo "uStor shell: QEMU $accel, disk ${disk#"$root"/}; \`help\` lists the commands, \`exit\` or Ctrl-C leaves"
# -serial stdio on a terminal puts it in raw mode: keys go to COM1 as typed
# (Enter is CR), Ctrl-C still ends QEMU.
"$qemu" "${accel_args[@]}" -M q35 -m 128M -nographic -monitor none -no-reboot -nic none \
	-serial stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
	-drive file="$disk",if=none,id=d0,format=raw -device nvme,serial=USTOR-SHELL,drive=d0 \
	-kernel "$kernel" -append "shell=1 $*"
# isa-debug-exit: 1 = the kernel passed (fail=0), 3 = it reported failures.
case $? in 1) exit 0 ;; 3) exit 1 ;; *) exit 2 ;; esac
