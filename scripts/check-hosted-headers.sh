#!/bin/sh
# SPDX-License-Identifier: MIT
#
# check-hosted-headers.sh DIR...
#
# Fails (exit 1) when a C, header or preprocessed-assembly file (*.c, *.h,
# *.S, *.inc) under any DIR includes something other than:
#   - <X> where X is a freestanding header: stddef.h stdint.h stdbool.h
#     stdarg.h stdalign.h stdnoreturn.h limits.h iso646.h (float.h is
#     deliberately not allowed: kernels build without the FPU);
#   - "X" where X is a project header: a file that exists, inside this
#     repository, relative to the including file, to the repository's
#     include/ directory, to the repository root, or to one of the DIRs.
# Project headers must be quoted; computed includes (#include MACRO) and
# #include_next are refused because they cannot be checked. Offenders are
# listed as file:line. Exit 2: usage error.

set -u

if [ "$#" -eq 0 ]; then
	echo "usage: $0 DIR...   (e.g. $0 include src hal/arch)" >&2
	exit 2
fi

root=$(cd "$(dirname "$0")/.." && pwd -P) || exit 2

for dir in "$@"; do
	if [ ! -d "$dir" ]; then
		echo "check-hosted-headers: $dir: not a directory" >&2
		exit 2
	fi
done

tmp=$(mktemp) || exit 2
trap 'rm -f "$tmp"' EXIT
trap 'exit 2' HUP INT TERM

# Succeeds when the quoted include $2 of file $1 names a file inside the
# repository.
resolves() {
	for base in "$(dirname "$1")" "$root/include" "$root" $dirs_q; do
		cand=$base/$2
		[ -f "$cand" ] || continue
		cand_dir=$(cd "$(dirname "$cand")" 2>/dev/null && pwd -P) || continue
		case $cand_dir/ in
		"$root"/*) return 0 ;;
		esac
	done
	return 1
}

# The DIRs as extra quoted-include bases (split on blanks: keep them simple).
dirs_q=$*

nfiles=0
bad=0
for dir in "$@"; do
	find "$dir" -type f \( -name '*.c' -o -name '*.h' -o -name '*.S' \
		-o -name '*.inc' \) -print
done | LC_ALL=C sort -u >"$tmp"

while IFS= read -r file; do
	nfiles=$((nfiles + 1))
	# file:line:text of every include-like directive.
	matches=$(LC_ALL=C grep -n -E '^[[:space:]]*#[[:space:]]*include' "$file") || continue
	while IFS= read -r m; do
		line=${m%%:*}
		text=${m#*:}
		# The directive's argument, after "include" and blanks.
		arg=$(printf '%s\n' "$text" |
			sed -e 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*//')
		case $text in
		*include_next*)
			echo "$file:$line: #include_next is not allowed"
			bad=$((bad + 1))
			continue
			;;
		esac
		case $arg in
		\<*\>*)
			hdr=${arg#<}
			hdr=${hdr%%>*}
			case $hdr in
			stddef.h | stdint.h | stdbool.h | stdarg.h | stdalign.h | \
				stdnoreturn.h | limits.h | iso646.h) ;;
			*)
				if resolves "$file" "$hdr"; then
					echo "$file:$line: <$hdr> is a project header: include it in quotes"
				else
					echo "$file:$line: <$hdr> is not a freestanding header"
				fi
				bad=$((bad + 1))
				;;
			esac
			;;
		\"*\"*)
			hdr=${arg#\"}
			hdr=${hdr%%\"*}
			if ! resolves "$file" "$hdr"; then
				echo "$file:$line: \"$hdr\" is not a header of this project"
				bad=$((bad + 1))
			fi
			;;
		*)
			echo "$file:$line: cannot check computed include: $arg"
			bad=$((bad + 1))
			;;
		esac
	done <<EOM
$matches
EOM
done <"$tmp"

# The loop above runs in this shell (input redirected, no pipe), so the
# counters survive it.
if [ "$bad" -ne 0 ]; then
	echo "check-hosted-headers: $bad offending include(s)"
	exit 1
fi
echo "check-hosted-headers: OK ($nfiles files)"
