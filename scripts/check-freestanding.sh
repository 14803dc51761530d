#!/bin/sh
# SPDX-License-Identifier: MIT
#
# check-freestanding.sh LIB NM
#
# Fails (exit 1) when the static library LIB, read with the nm tool NM built
# for its architecture:
#   - references an undefined symbol other than memcpy, memmove, memset and
#     memcmp that no member of LIB defines (libgcc helpers such as
#     __udivdi3, __stack_chk_fail, _GLOBAL_OFFSET_TABLE_, libc calls), or
#   - defines a global symbol whose name does not start with ustor_ or USTOR_
#     (STYLE.md: a static library hides nothing).
# Offenders are listed with the member that holds them. Exit 2: usage error
# or NM failed.

set -u

usage() {
	echo "usage: $0 LIB NM   (e.g. $0 build/x86_64/libustor.a nm)" >&2
	exit 2
}

[ "$#" -eq 2 ] || usage
lib=$1
nm_tool=$2

if [ ! -f "$lib" ]; then
	echo "check-freestanding: $lib: no such file" >&2
	exit 2
fi

tmp=$(mktemp) || exit 2
trap 'rm -f "$tmp" "$tmp.sum"' EXIT
trap 'exit 2' HUP INT TERM

# POSIX output: one "name type [value [size]]" line per symbol; for an
# archive, a "lib.a[member.o]:" line before each member's symbols.
if ! LC_ALL=C "$nm_tool" -P "$lib" >"$tmp"; then
	echo "check-freestanding: '$nm_tool -P $lib' failed" >&2
	exit 2
fi

LC_ALL=C awk -v lib="$lib" -v out="$tmp.sum" '
	# Member header: the last field ends in a colon (symbol lines end in a
	# type letter, a value or a size).
	$NF ~ /:$/ {
		member = $0
		sub(/:$/, "", member)
		next
	}
	NF >= 2 {
		name = $1
		type = $2
		nsym++
		if (type == "U" || type == "w" || type == "v") {
			# Undefined (w/v: weak undefined, still needs a definition
			# or silently becomes a null address).
			undef[name] = undef[name] (undef[name] == "" ? "" : ", ") member
		} else if (type ~ /^[A-Z]$/ || type == "u" || type == "i") {
			# Defined global: upper-case types, u (unique global),
			# i (indirect function).
			defined[name] = 1
			if (name !~ /^(ustor_|USTOR_)/)
				badname[name] = type " in " member
		}
	}
	END {
		allowed["memcpy"] = allowed["memmove"] = 1
		allowed["memset"] = allowed["memcmp"] = 1
		bad = 0
		for (name in undef) {
			if ((name in allowed) || (name in defined))
				continue
			printf "check-freestanding: %s: undefined symbol %s (used by %s)\n", lib, name, undef[name]
			bad++
		}
		for (name in badname) {
			printf "check-freestanding: %s: global symbol %s (%s) lacks the ustor_/USTOR_ prefix\n", lib, name, badname[name]
			bad++
		}
		printf "%d %d\n", bad, nsym > out
	}
' "$tmp" | sort

read -r bad nsym <"$tmp.sum" || exit 2
rm -f "$tmp.sum"
if [ "$bad" -ne 0 ]; then
	echo "check-freestanding: $lib: $bad offender(s)"
	exit 1
fi
echo "check-freestanding: $lib: OK ($nsym symbols)"
