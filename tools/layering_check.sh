#!/bin/bash
# layering_check.sh [ROOT]: the portable/arch line of ARCHITECTURE.md, checked on the source tree itself.
#   - nothing under mm/ includes anything under kernel/, boot/ or user/;
#   - nothing under mm/ or kernel/ includes anything under arch/ (kernel/sched and kernel/proc reach it
#     through their arch.h), and only mm/base/percpu.h includes the environment's asm/ header;
#   - nothing under boot/ is x86: no assembly files or linker scripts, no inline assembly, no Multiboot in
#     its C++ sources and headers (those live in arch/x86_64/boot), and it includes nothing under arch/
#     (the architecture comes in through boot/arch.h); it may include kernel/.
# ROOT defaults to the workspace this script sits in (under `bazel test`, where its runfiles link points).
set -u
root=${1:-$(dirname "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")")}
cd "$root" || { echo "FAIL: cannot enter $root"; exit 1; }
[ -d mm ] && [ -d boot ] || { echo "FAIL: $root is not the kmem workspace"; exit 1; }
failures=0
fail() { echo "FAIL: $1:"; echo "$2" | sed 's/^/  /'; failures=$((failures + 1)); }

hits=$(grep -rn '#include "arch/' mm/)
[ -z "$hits" ] || fail "mm/ includes arch/ (mm/ is portable: pass what it needs through a narrow interface)" "$hits"
hits=$(grep -rn '#include "asm/' mm/ kernel/ boot/ | grep -v '^mm/base/percpu.h:')
[ -z "$hits" ] || fail "asm/ included beyond mm/base/percpu.h (the inline interrupt hooks come in there alone)" "$hits"
hits=$(grep -rn '#include "kernel/\|#include "boot/\|#include "user/' mm/)
[ -z "$hits" ] || fail "mm/ includes kernel/, boot/ or user/ (mm/ is the bottom layer: its clients come to it)" "$hits"
hits=$(grep -rn '#include "arch/' kernel/)
[ -z "$hits" ] || fail "kernel/ includes arch/ (it is portable: the architecture comes in through an arch.h)" "$hits"

hits=$(find boot -name '*.S' -o -name '*.s' -o -name '*.asm' -o -name '*.ld')
[ -z "$hits" ] || fail "assembly or linker scripts under boot/ (they are arch/<cpu>/boot's)" "$hits"

sources=$(find boot -name '*.cc' -o -name '*.h')
hits=$(grep -nE '\basm\b|__asm__' $sources)
[ -z "$hits" ] || fail "inline assembly under boot/" "$hits"
hits=$(grep -n '#include "arch/' $sources)
[ -z "$hits" ] || fail "boot/ includes arch/ (it reaches the architecture through boot/arch.h)" "$hits"
hits=$(grep -niE 'multiboot' $sources)
[ -z "$hits" ] || fail "Multiboot under boot/ (the loader's hand-over is arch/x86_64/boot's)" "$hits"

[ $failures -eq 0 ] || exit 1
echo PASS
