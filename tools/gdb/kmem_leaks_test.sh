#!/bin/bash
# kmem_leaks_test.sh: `kmem leaks` against the kernel built with allocation-site tags (//boot:kernel_tags).
# The kernel boots under TCG with `-append kmem.monitor`, its serial line on pipes and QEMU's gdb stub on a
# socket; gdb (batch mode, tools/gdb/kmem.py) lets it run to the monitor, then stops it where the monitor's
# `pools` starts (PoolDump) after `leak 3`, runs `kmem leaks` and detaches; the monitor then prints its own
# site lines from the same state. gdb's rows must be the monitor's (pc, live blocks, live bytes) in the same
# order, and name the leak command's function for the leak's two sites. Every wait has a deadline.
set -u
dir=$(mktemp -d "${TEST_TMPDIR:-/tmp}/leaks.XXXXXX")
sock_dir=$(mktemp -d /tmp/kmem-leaks.XXXXXX)  # a Unix socket's path must be under 108 bytes
sock=$sock_dir/gdb.sock
trap 'rm -rf "$sock_dir"' EXIT
out=${TEST_UNDECLARED_OUTPUTS_DIR:-$dir}
serial=$out/serial.log
gdblog=$out/gdb.log
: >"$gdblog"
: >"$serial"
mkfifo "$dir/serial.in" "$dir/serial.out"
fail() {
  echo "FAIL (kmem leaks): $*"; echo "--- gdb:"; tail -30 "$gdblog"; echo "--- serial:"; tr -d '\r' <"$serial" | tail -30
  kill "$qemu" "$gdb" 2>/dev/null; exit 1
}

KMEM_ACCEL=tcg KMEM_KERNEL=boot/kernel_tags.bin KMEM_SERIAL="pipe:$dir/serial" \
  timeout 120 boot/qemu -S -gdb "unix:$sock,server=on,wait=off" -append kmem.monitor >"$dir/qemu.log" 2>&1 &
qemu=$!
cat "$dir/serial.out" >"$serial" &
exec 3<>"$dir/serial.in"
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || fail "QEMU opened no gdb socket: $(cat "$dir/qemu.log")"

timeout 100 gdb -batch -nx boot/kernel_tags.elf -x tools/gdb/kmem.py \
  -ex "target remote $sock" \
  -ex 'hbreak kmem::boot::MonitorIfAsked' -ex continue -ex delete \
  -ex 'hbreak kmem::pool::PoolDump' -ex continue -ex delete \
  -ex 'echo ==leaks\n' -ex 'kmem leaks' \
  -ex 'echo ==end\n' -ex detach >"$gdblog" 2>&1 &
gdb=$!

source testing/qemu_wait.sh
wait_for "$serial" '^kmem> ' 90 || fail "no monitor prompt"
printf 'leak 3\npools\nexit\n' >&3
wait "$gdb"
wait "$qemu"
status=$?
[ $status -eq 0 ] || fail "qemu.sh exited with $status after exit: $(cat "$dir/qemu.log")"
grep -q '^==end$' "$gdblog" || fail "gdb did not get through its commands"
grep -E 'Python Exception|^Error|not defined' "$gdblog" && fail "kmem leaks failed"

section() { sed -n "/^==$1\$/,/^==/p" "$gdblog" | sed '1d;$d'; }
answer() { tr -d '\r' <"$serial" | awk -v cmd="kmem> $1" '$0 == cmd {on = 1; next} /^kmem> / {on = 0} on'; }
answer pools | sed -n '/^site               live blocks   live bytes$/,$p' >"$dir/monitor"
section leaks >"$dir/gdb"
[ "$(head -1 "$dir/gdb")" = "site               live blocks   live bytes  function" ] || fail "kmem leaks has no header"
[ "$(wc -l <"$dir/monitor")" -gt 1 ] || fail "the monitor lists no sites: $(answer pools)"
# The monitor lists at most 16 sites (and sums the rest): compare that many.
rows=$(($(wc -l <"$dir/monitor") - 1))
diff <(sed '1d' "$dir/monitor" | grep -v '^other') <(sed '1d' "$dir/gdb" | head -"$rows" | cut -c1-43) ||
  fail "kmem leaks disagrees with the monitor's site lines"
leak='kmem::boot::(anonymous namespace)::Leak(void\*, unsigned long) + [0-9]*'
[ "$(grep -c " 3 \+\(3000\|384\)  $leak\$" "$dir/gdb")" = 2 ] ||
  fail "kmem leaks does not name the leak command's two sites: $(cat "$dir/gdb")"
echo "PASS: kmem leaks lists the $rows sites the tags kernel's monitor lists, naming the leak's"
