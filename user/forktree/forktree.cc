// forktree [depth [orphans]]: a tree of 2^depth processes (default 6: 64) made by fork, each round every process
// forking once. Before each fork a process stamps the round's slot and fills the rest of four areas it
// inherits (data, bss, heap, stack) with a pattern of its own identity; after it, parent and child check
// that every earlier round's stamp is still their ancestors' and the fill is the one made before the fork,
// and at the end each fills the areas with its own pattern, yields so that the others write theirs, and
// checks that nobody else's write reached it: copy-on-write keeps each process's pages its own. Each
// waits for its children, whose exit status is kOk plus the processes below them; the root prints
// "forktree: N processes ok". With `orphans` nobody waits: each process exits once its own checks pass, and
// the kernel reaps the children with their parent; the root prints "forktree: N processes, none waited
// for". Any mismatch prints "forktree: FAIL ..." and exits 1.

#include <stdint.h>

#include "user/lib/args.h"
#include "user/lib/print.h"
#include "user/lib/syscall.h"

namespace {

using kmem::user::Fail;

constexpr uint64_t kMaxDepth = 8;
constexpr uint64_t kWords = 1024;  // two pages per area
constexpr uint64_t kStride = 8;    // a word per cache line is filled and checked
constexpr int64_t kOk = 1000;      // a child's status: kOk + the processes of its subtree

uint64_t data_area[kWords] = {1};  // initialised: in the data segment, not bss
uint64_t bss_area[kWords];

struct Area {
  volatile uint64_t* words;
  const char* name;
};

uint64_t Stamp(uint64_t id, uint64_t round) { return (id << 8 | round) * 0x9e3779b97f4a7c15; }
uint64_t Fill(uint64_t id, uint64_t i) { return (id * 0x100000001b3 + i) ^ 0x666f726b74726565; }

// Slots [0, kMaxDepth) hold the stamps, the rest the fill.
void Write(const Area& a, uint64_t id) {
  for (uint64_t i = kMaxDepth; i < kWords; i += kStride) a.words[i] = Fill(id, i);
}

void CheckFill(const Area& a, uint64_t id, uint64_t self) {
  for (uint64_t i = kMaxDepth; i < kWords; i += kStride) {
    if (a.words[i] != Fill(id, i)) {
      Fail("forktree: FAIL in process %lu: %s word %lu is 0x%lx, process %lu wrote 0x%lx\n", self, a.name, i,
           a.words[i], id, Fill(id, i));
    }
  }
}

// After `rounds` forks: the stamp of round k was made by the ancestor whose identity is id's prefix.
void CheckStamps(const Area& a, uint64_t id, uint64_t rounds) {
  for (uint64_t k = 0; k < rounds; ++k) {
    const uint64_t want = Stamp(id >> (rounds - k), k);
    if (a.words[k] != want) {
      Fail("forktree: FAIL in process %lu: %s round %lu stamp is 0x%lx, not its ancestor's 0x%lx\n", id, a.name, k,
           a.words[k], want);
    }
  }
}

}  // namespace

extern "C" int main(int argc, char** argv) {
  const uint64_t depth = kmem::user::UintArg("forktree", argc, argv, 1, 6, kMaxDepth);
  const bool orphans = argc > 2 && kmem::user::StrEq(argv[2], "orphans");
  if (argc > 2 && !orphans) Fail("forktree: bad argument '%s'\n", argv[2]);
  const int64_t heap = kmem::user::Brk(0);
  const int64_t heap_end = heap + int64_t{kWords * 8};
  if (kmem::user::IsErr(heap) || kmem::user::Brk(static_cast<uint64_t>(heap_end)) != heap_end) {
    Fail("forktree: FAIL: no heap\n");
  }
  uint64_t stack_area[kWords];
  const Area areas[] = {{data_area, "data"},
                        {bss_area, "bss"},
                        {reinterpret_cast<volatile uint64_t*>(heap), "heap"},
                        {stack_area, "stack"}};
  uint64_t id = 1;  // the root; a fork makes a parent 2 id and its child 2 id + 1
  int64_t kids[kMaxDepth];
  uint64_t nkids = 0;
  for (uint64_t round = 0; round < depth; ++round) {
    for (const Area& a : areas) {
      if (round != 0) CheckFill(a, id >> 1, id);  // what the process before the last fork wrote
      a.words[round] = Stamp(id, round);
      Write(a, id);
    }
    const int64_t pid = kmem::user::Fork();
    if (kmem::user::IsErr(pid)) Fail("forktree: FAIL in process %lu: fork returned %ld\n", id, pid);
    if (pid == 0) {
      id = 2 * id + 1;
      nkids = 0;  // the parent's children are not this process's
    } else {
      id = 2 * id;
      kids[nkids++] = pid;
    }
    for (const Area& a : areas) {
      CheckStamps(a, id, round + 1);
      CheckFill(a, id >> 1, id);
    }
  }
  for (const Area& a : areas) Write(a, id);
  for (int i = 0; i < 8; ++i) kmem::user::Yield();  // the others write theirs meanwhile
  for (const Area& a : areas) {
    CheckFill(a, id, id);
    CheckStamps(a, id, depth);
  }
  if (id >> depth != 1) Fail("forktree: FAIL: process %lu after %lu rounds\n", id, depth);
  const bool root = id == uint64_t{1} << depth;
  if (orphans) {
    if (root) kmem::Print("forktree: %lu processes, none waited for\n", uint64_t{1} << depth);
    return 0;
  }
  int64_t processes = 1;
  for (uint64_t i = 0; i < nkids; ++i) {
    int64_t status = 0;
    const int64_t got = kmem::user::Wait(static_cast<uint64_t>(kids[i]), &status);
    if (got != kids[i] || status <= kOk) {
      Fail("forktree: FAIL in process %lu: wait(%ld) returned %ld with status %ld\n", id, kids[i], got, status);
    }
    processes += status - kOk;
  }
  if (!root) kmem::user::Exit(kOk + processes);  // every process but the root
  int64_t status = 0;
  if (kmem::user::Wait(1, &status) != static_cast<int64_t>(kmem::abi::Err::kInval)) {
    Fail("forktree: FAIL: wait for a process that is not a child did not say kInval\n");
  }
  kmem::Print("forktree: %ld processes ok\n", processes);
  return 0;
}
