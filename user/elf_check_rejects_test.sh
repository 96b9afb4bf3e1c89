#!/bin/bash
# elf_check.sh must reject each bad ELF of user/testdata with a message naming the file and the field.
set -u
fail() { echo "FAIL: $*" >&2; exit 1; }

expect_reject() {
  local elf=$1 pattern=$2 out
  if out=$(user/elf_check.sh "$elf" 2>&1); then fail "elf_check.sh accepted $elf: $out"; fi
  grep -qE "^$elf: $pattern" <<<"$out" || fail "elf_check.sh on $elf said '$out', not '$elf: $pattern'"
  echo "rejected: $out"
}

for elf in "$@"; do
  case $elf in
    */pie.elf) expect_reject "$elf" "Type: DYN.*not EXEC" ;;
    */rwx.elf) expect_reject "$elf" "PT_LOAD at 0x0*400000: flags RWE, writable and executable" ;;
    *) fail "no expectation for $elf" ;;
  esac
done
echo "elf_check.sh rejected all $# bad files"
