#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Build a bootable GRUB ISO of the x86_64 example kernel: BIOS (El Torito,
# i386-pc GRUB) and UEFI (x86_64-efi GRUB) on one image, made by
# grub-mkrescue. The default menu entry loads the kernel with `multiboot2`,
# a second one with `multiboot` (multiboot1); both pass the command line.
#
#   examples/x86_64/mkiso.sh [-o out.iso] [-k kernel.elf32] [-c "command line"] [-u]
#
#   -o   output (default $BUILD/x86_64-kernel/ustor.iso)
#   -k   kernel (default $BUILD/x86_64-kernel/ustor-kernel.elf32, built if missing)
#   -c   kernel command line (default "bench=none"; see examples/x86_64/README.md)
#   -u   also make sure OVMF (UEFI firmware for QEMU, package ovmf) is there
#
# `make iso` runs it. Boot the result with
#   qemu-system-x86_64 -accel tcg -M q35 -m 128M -cdrom build/x86_64-kernel/ustor.iso ...
# (SeaBIOS) or add -bios /usr/share/ovmf/OVMF.fd (UEFI); dd it to a USB
# stick for a real PC (Secure Boot off: this GRUB is unsigned).
#
# Needs grub-mkrescue (grub-common), the GRUB platform files (grub-pc-bin,
# grub-efi-amd64-bin), xorriso and mtools; as root it installs whatever is
# missing with apt-get, otherwise it says what to install.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
out=$build/x86_64-kernel/ustor.iso
kernel=${KERNEL:-$build/x86_64-kernel/ustor-kernel.elf32}
cmdline="bench=none"
need_ovmf=0

while [ $# -gt 0 ]; do
	case $1 in
	-o) [ $# -ge 2 ] || exit 64; out=$2; shift 2 ;;
	-k) [ $# -ge 2 ] || exit 64; kernel=$2; shift 2 ;;
	-c) [ $# -ge 2 ] || exit 64; cmdline=$2; shift 2 ;;
	-u) need_ovmf=1; shift ;;
	*) sed -n '9,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 64 ;;
	esac
done
case $kernel in /*) ;; *) kernel=$root/$kernel ;; esac
case $out in /*) ;; *) out=$PWD/$out ;; esac
case $cmdline in *[\"\\\$\;]*)
	echo "mkiso: the command line may not contain \" \\ \$ or ; (it goes into grub.cfg)" >&2
	exit 64 ;;
esac

# ---- Tools present? ------------------------------------------------------------
# package:file that proves it is installed
need="grub-common:/usr/bin/grub-mkrescue grub-pc-bin:/usr/lib/grub/i386-pc/cdboot.img
grub-efi-amd64-bin:/usr/lib/grub/x86_64-efi/kernel.img xorriso:/usr/bin/xorriso mtools:/usr/bin/mformat"
[ $need_ovmf = 1 ] && need="$need ovmf:/usr/share/ovmf/OVMF.fd"
missing=
for pf in $need; do
	[ -e "${pf#*:}" ] || missing="$missing ${pf%%:*}"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "mkiso: installing$missing with apt-get"
		# shellcheck disable=SC2086 # package names, split on purpose
		if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing; }; then
			echo "mkiso: apt-get install$missing failed" >&2
			exit 1
		fi
	else
		echo "mkiso: missing$missing. Install them first, as root:" >&2
		echo "         apt-get install$missing" >&2
		exit 1
	fi
fi
if [ ! -f "$kernel" ]; then
	make -C "$root" --no-print-directory -f examples/x86_64/kernel.mk BUILD="$build" kernel || exit 1
fi

# ---- The ISO tree ----------------------------------------------------------------
tree=$(mktemp -d "${TMPDIR:-/tmp}/ustor-iso.XXXXXX")
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree/boot/grub"
cp "$kernel" "$tree/boot/ustor-kernel.elf32" || exit 1
cat >"$tree/boot/grub/grub.cfg" <<EOF
# uStor example kernel (examples/x86_64), made by examples/x86_64/mkiso.sh.
# Boot at once with the first entry. Under BIOS, copy GRUB's messages to
# COM1 (under UEFI they reach it through the firmware console already).
# GRUB takes no serial input here (under UEFI the firmware console includes
# COM1, but with no menu delay GRUB reads no key): COM1 input is the kernel's.
set timeout=0
set timeout_style=hidden
set default=0
if [ "\$grub_platform" = pc ]; then
	serial --unit=0 --speed=115200
	terminal_output --append serial
fi

menuentry "uStor example kernel (multiboot2)" {
	multiboot2 /boot/ustor-kernel.elf32 $cmdline
	boot
}

menuentry "uStor example kernel (multiboot1)" {
	multiboot /boot/ustor-kernel.elf32 $cmdline
	boot
}
EOF
mkdir -p "$(dirname "$out")"
if ! grub-mkrescue -o "$out" "$tree" >"$tree.log" 2>&1; then
	cat "$tree.log" >&2
	rm -f "$tree.log"
	echo "mkiso: grub-mkrescue failed" >&2
	exit 1
fi
rm -f "$tree.log"
echo "OK  ${out#"$root"/} (GRUB, BIOS + UEFI, multiboot2, command line \"$cmdline\")"
