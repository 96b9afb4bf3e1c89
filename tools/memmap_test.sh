#!/bin/bash
# //tools:memmap end to end: known maps print their golden tables (from a file, from stdin, in 9front's
# format), and malformed input gets its line number and reason on stderr, a non-zero exit and nothing on
# stdout.
set -u
tool=tools/memmap
data=testing/e820
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

for name in qemu_1G laptop amd_ht_hole; do
  diff -u "$data/$name.golden" <("$tool" "$data/$name.map" 2>/dev/null) || fail "$name.map differs from $name.golden"
done
diff -u "$data/qemu_1G.golden" <("$tool" - <"$data/qemu_1G.map") || fail "stdin differs from the file"
diff -u "$data/qemu_1G.golden" <("$tool" --format=9front "$data/qemu_1G.plan9.ini") || fail "9front format differs"
notes=$("$tool" "$data/laptop.map" 2>&1 >/dev/null)
[ "$notes" = "memmap: note: 1 entries of unknown type counted as reserved" ] || fail "laptop.map notes: '$notes'"

# expect_error FORMAT_FLAG INPUT EXPECTED_STDERR
expect_error() {
  local out err status
  err=$(printf '%b' "$2" | "$tool" $1 - 2>&1 >"$TEST_TMPDIR/out")
  status=$?
  out=$(cat "$TEST_TMPDIR/out")
  [ $status -ne 0 ] || fail "exit status 0 for input '$2'"
  [ -z "$out" ] || fail "printed '$out' on stdout for input '$2'"
  [ "$err" = "$3" ] || fail "for input '$2': stderr '$err', expected '$3'"
}
expect_error "" '0x0 0x9fc00 1\n0x100000 0x200000\n' 'memmap: -:2: missing field'
expect_error "" '# fine\n\n0x0 0x9fc00 1\n0x100000 0x200000 1 1\n' 'memmap: -:4: more than three fields'
expect_error "" '0x2000 0x1000 1\n' 'memmap: -:1: end below base'
expect_error "" '0x0 0x1000 ram\n' 'memmap: -:1: bad digit'
expect_error "" '0x0 0x1000 0x1\n' 'memmap: -:1: type must be decimal'
expect_error "" '100000 0x200000 1\n' 'memmap: -:1: number without 0x'
expect_error "" '0x10000000000000000 0x20000000000000000 1\n' 'memmap: -:1: number too large'
expect_error --format=9front 'bootfile=9pc64\n' 'memmap: -:1: no *e820= line'
expect_error --format=9front 'a=b\n*e820=1 0 9fc00 2 9fc00\n' 'memmap: -:2: missing field'
expect_error "" '' 'memmap: -:1: no entries'
expect_error "" '# only a comment\n\n' 'memmap: -:2: no entries'
expect_error --format=9front 'bootfile=9pc64\n*e820=\n' 'memmap: -:2: no entries'

# expect_file_error FILE EXPECTED_STDERR: status 1 (not a crash), the reason, nothing on stdout.
expect_file_error() {
  local err status
  err=$("$tool" "$1" 2>&1 >"$TEST_TMPDIR/out")
  status=$?
  [ $status -eq 1 ] || fail "exit status $status for $1"
  [ -s "$TEST_TMPDIR/out" ] && fail "printed on stdout for $1"
  [ "$err" = "$2" ] || fail "for $1: stderr '$err', expected '$2'"
}
expect_file_error "$data/no-such-file" "memmap: cannot read $data/no-such-file: No such file or directory"
expect_file_error "$data" "memmap: cannot read $data: Is a directory"

# Under `bazel run` the tool starts in its runfiles tree; a relative FILE is the user's.
mkdir -p "$TEST_TMPDIR/user/maps"
cp "$data/qemu_1G.map" "$TEST_TMPDIR/user/maps/mine.map"
tool_abs=$PWD/$tool
diff -u "$data/qemu_1G.golden" <(cd "$TEST_TMPDIR" && BUILD_WORKING_DIRECTORY="$TEST_TMPDIR/user" "$tool_abs" maps/mine.map) ||
  fail "a path relative to BUILD_WORKING_DIRECTORY"

# RAM the typed map cannot hold (at or above 2^52) is named, not dropped in silence; type 12 is known.
notes=$(printf '0x0 0x9fc00 1\n0x100000 0x800000 12\n0xfffffff000000 0x10000001000000 1\n' | "$tool" - 2>&1 >/dev/null)
[ "$notes" = "memmap: note: 16384 KiB of RAM at or above the 2^52 physical limit left out of the typed map" ] ||
  fail "RAM above the limit: notes '$notes'"

"$tool" --format=bogus "$data/qemu_1G.map" >/dev/null 2>&1 && fail "an unknown flag exits 0"
err=$("$tool" --format=bogus "$data/qemu_1G.map" 2>&1 >/dev/null)
[[ $err == *"'bogus' is neither text nor 9front"* ]] || fail "an unknown format: stderr '$err'"
"$tool" --help 2>&1 | grep -q -- '--format (text: ' || fail "--help does not describe --format"

[ $failures -eq 0 ] || exit 1
echo PASS
