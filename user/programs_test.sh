#!/bin/bash
# programs_test.sh LINUX_RUN ELF...: runs each user program on the Linux host (testing/linux_run.cc) and
# checks the lines the kernel's boot tests will check: the well-behaved ones end with their "ok" line and
# status 0, stack without a limit and every segv case are killed by a fault and never say "survived".
set -u
run=$1
shift
declare -A elf
for f in "$@"; do elf[$(basename "$f" .elf)]=$f; done
failed=0
# The unbounded stack case must hit a limit: Linux's, like kmem's, is finite.
ulimit -s 8192

# expect STATUS REGEX PROGRAM [ARG...]: the run exits with STATUS and prints a line matching REGEX.
expect() {
  local status=$1 regex=$2 out rc
  shift 2
  out=$("$run" "${elf[$1]}" "${@:2}" 2>&1)
  rc=$?
  if [ "$rc" != "$status" ] || ! grep -qE "$regex" <<<"$out" || grep -q survived <<<"$out"; then
    echo "FAIL: $* exited $rc (want $status) and printed:"
    sed 's/^/    /' <<<"$out" | tail -20
    echo "    (wanted a line matching '$regex' and no 'survived')"
    failed=1
  else
    echo "ok: $* -> $(grep -E "$regex" <<<"$out" | tail -1)"
  fi
}

readonly SEGV=139  # 128 + SIGSEGV
expect 0 '^hello: hello from user space, pid [0-9]+$' hello
# Linux's memstat has no ageing passes: age says so within its wait rather than pass.
expect 1 '^age: FAIL: no ageing pass in 50 ms' age 16 64 50
expect 0 '^memhog: 16 MiB ok$' memhog
expect 0 '^memhog: 3 MiB ok$' memhog 3
expect 0 '^pressure: 2 MiB ok$' pressure 2 0 10
expect 2 "^memhog: bad argument 'x1'" memhog x1
expect 0 '^mmapchurn: 2000 rounds ok' mmapchurn 2000
expect 0 '^stack: 2048 KiB ok$' stack 2048
expect 0 '^faults: 300 pages touched$' faults 300
expect 0 '^yield: 50 yields$' yield 50
expect 0 '^spin: 2 rounds done$' spin 2
expect $SEGV '^stack: depth [1-9][0-9]* KiB$' stack
for c in null kernel text heapexec; do expect $SEGV "^segv: trying $c$" segv $c; done
expect 2 '^segv: usage' segv
expect 0 '^memstat: 0000000000400000-[0-9a-f]{16} r-x text 0 resident$' memstat
exit $failed
