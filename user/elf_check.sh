#!/bin/bash
# elf_check.sh ELF...: each file is what kmem's ELF loader takes: ELF64, x86-64, a static ET_EXEC (no
# PT_DYNAMIC, no PT_INTERP), every PT_LOAD within [0x400000, 0x800000000000) (above the null guard, below
# the kernel half), none both writable and executable, the entry point inside a r-x PT_LOAD. Prints
# "FILE: FIELD: what is wrong" for each fault and exits 1 if there was one.
set -u
readonly LOW=$((0x400000)) HIGH=$((0x800000000000))
failed=0

fault() {
  echo "$1: $2" >&2
  failed=1
}

check() {
  local elf=$1 header phdrs
  if ! header=$(llvm-readelf -h "$elf" 2>&1) || ! phdrs=$(llvm-readelf -l -W "$elf" 2>&1); then
    fault "$elf" "not an ELF file: ${header}${phdrs:-}"
    return
  fi
  field() { sed -n "s/^ *$1: *//p" <<<"$header"; }
  local class machine type entry
  class=$(field Class) machine=$(field Machine) type=$(field Type) entry=$(field 'Entry point address')
  [ "$class" = ELF64 ] || fault "$elf" "Class: $class, not ELF64"
  [[ "$machine" == *X86-64* ]] || fault "$elf" "Machine: $machine, not X86-64"
  [[ "$type" == EXEC* ]] || fault "$elf" "Type: $type, not EXEC (a static, non-PIE executable)"
  local entry_ok=0 loads=0 kind vaddr memsz flags end
  # Program header lines: Type Offset VirtAddr PhysAddr FileSiz MemSiz Flags... Align; the flags ("R E",
  # "RW") are one or more words.
  while read -r kind _ vaddr _ _ memsz rest; do
    case $kind in
      DYNAMIC | INTERP) fault "$elf" "program header $kind: a static executable has none" ;;
      LOAD)
        loads=$((loads + 1))
        flags=$(tr -d ' ' <<<"${rest% *}")
        end=$((vaddr + memsz))
        if ((vaddr < LOW || end > HIGH || end < vaddr)); then
          fault "$elf" "PT_LOAD [$vaddr, $(printf '0x%x' $end)): outside [0x400000, 0x800000000000)"
        fi
        [[ "$flags" == *W*E* ]] && fault "$elf" "PT_LOAD at $vaddr: flags $flags, writable and executable"
        if [ "$flags" = RE ] && ((vaddr <= entry && entry < end)); then entry_ok=1; fi
        ;;
    esac
  done < <(grep -E '^ +[A-Z_]+ +0x' <<<"$phdrs")
  ((loads > 0)) || fault "$elf" "program headers: no PT_LOAD"
  ((entry_ok)) || fault "$elf" "Entry point address: $entry, not inside a r-x PT_LOAD"
}

[ $# -gt 0 ] || { echo "usage: elf_check.sh ELF..." >&2; exit 2; }
for elf in "$@"; do check "$elf"; done
((failed == 0)) || exit 1
echo "elf_check: $# ELF files ok: $*"
