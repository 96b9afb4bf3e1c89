#include "boot/monitor.h"

#include "boot/arch.h"
#include "boot/cmdline.h"
#include "boot/memjson.h"
#include "boot/poolinit.h"
#include "kernel/proc/proc.h"
#include "kernel/sched/sched.h"
#include "mm/base/format.h"
#include "mm/pool/pool.h"
#include "mm/pool/slab.h"
#include "mm/vm/tlb.h"
#include "monitor/monitor.h"

namespace kmem::boot {
namespace {

using monitor::ArgKind;

enum class JsonDump : uint8_t { kNo, kYes };

// The handlers' context: the boot's objects, and whether stress runs end with the JSON dump.
struct Context {
  MonitorTargets targets;
  JsonDump json;
};

const MonitorTargets& Of(void* ctx) { return static_cast<const Context*>(ctx)->targets; }

void Mem(void* ctx, uint64_t) {
  const KernelPalloc& p = Of(ctx).palloc;
  Print("palloc: %lu pages (%lu MiB), %lu free, %lu user\n", p.TotalPages(), p.TotalPages() >> (20 - kPageShift),
        p.FreeCount(), p.UserCount());
  Of(ctx).xalloc.Xsummary();
}

void Memmap(void* ctx, uint64_t) { Of(ctx).map.Dump(); }

void Buddyinfo(void* ctx, uint64_t) { Of(ctx).palloc.PrintFreeTable(); }

// Rows of the allocation-site listing; the blocks of the sites past them are summed in one more line.
constexpr size_t kSiteRows = 16;

// With tags (--//mm/pool:tags) the live blocks of the pools and the caches by allocation site follow the
// tables, largest first; gdb's `kmem leaks` names the functions.
void Pools(void*, uint64_t) {
  pool::PoolDump(kKernelPools, kKernelPoolCount);
  pool::KmemDump();
  if constexpr (pool::kPoolTags) {
    pool::SiteCount rows[kSiteRows];
    pool::SiteTable sites{rows, kSiteRows};
    pool::PoolSites(kKernelPools, kKernelPoolCount, sites);
    pool::KmemSites(sites);
    pool::SitesDump(sites);
  }
}

// A leak to hunt: N blocks from Malloc and N objects from Kmalloc, never freed. `pools` then counts them
// live, and with tags lists them under this function's two calls (gdb's `kmem leaks` names it).
constexpr size_t kLeakMallocBytes = 1000;
constexpr size_t kLeakKmallocBytes = 100;

void Leak(void*, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) {
    if (pool::Malloc(kLeakMallocBytes) == nullptr || pool::Kmalloc(kLeakKmallocBytes) == nullptr) {
      Print("leak: out of memory after %lu of %lu\n", i, n);
      return;
    }
  }
  Print("leak: %lu blocks of %lu bytes from Malloc and %lu of %lu from Kmalloc, never to be freed\n", n,
        kLeakMallocBytes, n, kLeakKmallocBytes);
}

void Ptdump(void*, uint64_t) { ArchDumpPageTables(); }

void Cpus(void*, uint64_t) { ArchDumpCpus(); }

void Kva(void*, uint64_t) { ArchDumpKernelVa(); }

void Json(void* ctx, uint64_t) { PrintMemJson(Of(ctx).map, Of(ctx).palloc); }

void Tlb(void*, uint64_t) { TlbStatsPrint(); }

// One CPU runs until the SMP start-up; then every CPU should run them at once. The self-tests count every
// page back, so they run only when no process is live.
void Stress(void* ctx, uint64_t n) {
  kernel::ProcInfo none[1];
  if (const uint64_t live = kernel::ListProcesses(none, 0); live != 0) {
    Print("monitor: stress needs every process ended (%lu live: see ps, kill)\n", live);
    return;
  }
  for (uint64_t i = 1; i <= n; ++i) {
    Print("stress: run %lu of %lu\n", i, n);
    Of(ctx).self_tests(Of(ctx).palloc);
    if (static_cast<const Context*>(ctx)->json == JsonDump::kYes) Json(ctx, 0);
  }
}

void Ps(void*, uint64_t) {
  constexpr uint64_t kMaxListed = 64;
  static kernel::ProcInfo info[kMaxListed];  // the monitor's one thread
  const uint64_t live = kernel::ListProcesses(info, kMaxListed);
  Print("  pid name             state    cpu threads  vmas  resident\n");
  for (uint64_t i = 0; i < live && i < kMaxListed; ++i) {
    const kernel::ProcInfo& p = info[i];
    Print("%5lu %-16s %-8s %3u %7u %5lu %9lu\n", p.pid, p.name, p.ended ? "ended" : "running", p.cpu, p.threads,
          p.vmas, p.resident_pages);
  }
  if (live > kMaxListed) Print("(%lu more)\n", live - kMaxListed);
  const ImageStats images = kernel::ImageCacheStats();
  Print("shared text: %lu images, %lu users, %lu pages\n", images.images, images.users, images.pages);
}

void Vmas(void*, uint64_t pid) {
  if (!kernel::PrintVmas(pid)) Print("monitor: no process %lu\n", pid);
}

// Starts a program in the background (detached: it frees itself when it ends).
void Run(void*, unsigned n, const char* const* words) {
  char why[160];
  uint64_t pid;
  if (!kernel::AgeStart()) Print("monitor: no thread for the page ageing: %s runs without it\n", words[0]);
  const kernel::ProcStatus st = kernel::SpawnDetached(n, words, kernel::kAnyCpu, &pid, why, sizeof why);
  if (st == kernel::ProcStatus::kOk) {
    Print("monitor: pid %lu (%s) started\n", pid, words[0]);
  } else {
    Print("monitor: %s: %s: %s\n", words[0], kernel::ProcStatusName(st), why);
  }
}

void Kill(void*, uint64_t pid) {
  if (kernel::Kill(pid)) {
    Print("monitor: pid %lu will end at its next return to user mode\n", pid);
  } else {
    Print("monitor: no running process %lu\n", pid);
  }
}

void Age(void*, uint64_t) { kernel::PrintAge(); }

constexpr uint64_t kMaxPid = uint64_t{1} << 32;

constexpr monitor::Command kCommands[] = {
    {"mem", "page allocator and xalloc totals", ArgKind::kNone, 0, 0, Mem},
    {"memmap", "the typed physical memory map", ArgKind::kNone, 0, 0, Memmap},
    {"buddyinfo", "free blocks per order (CPUs' caches too) and pages per colour", ArgKind::kNone, 0, 0, Buddyinfo},
    {"pools", "the pools and slab caches (and who allocated their blocks, with tags)", ArgKind::kNone, 0, 0, Pools},
    {"ptdump", "the kernel's page tables", ArgKind::kNone, 0, 0, Ptdump},
    {"cpus", "each CPU's identity, address widths and caches", ArgKind::kNone, 0, 0, Cpus},
    {"kva", "the kernel-VA arenas' ranges and guard pages", ArgKind::kNone, 0, 0, Kva},
    {"json", "the memory dump, one JSON object a line", ArgKind::kNone, 0, 0, Json},
    {"tlb", "TLB shootdowns and flushes on every CPU", ArgKind::kNone, 0, 0, Tlb},
    {"stress", "run every self-test N times", ArgKind::kCount, 1, 1000, Stress},
    {"ps", "the processes: pid, name, state, cpu, VMAs, resident pages; the shared text", ArgKind::kNone, 0, 0, Ps},
    {"vmas", "process PID's VMAs, like /proc/PID/maps", ArgKind::kCount, 1, kMaxPid, Vmas},
    {"run", "start PROGRAM [ARGS] in the background (user/)", ArgKind::kWords, 1,
     monitor::Monitor::kMaxWords - 1, nullptr, Run},
    {"kill", "end process PID", ArgKind::kCount, 1, kMaxPid, Kill},
    {"age", "the latest page-ageing pass over every process", ArgKind::kNone, 0, 0, Age},
    {"leak", "allocate N blocks from Malloc and from Kmalloc and never free them", ArgKind::kCount, 1, 1000, Leak},
};

}  // namespace

void MonitorIfAsked(const char* cmdline, const MonitorTargets& targets) {
  Context ctx{targets, CmdlineHas(cmdline, "kmem.json") ? JsonDump::kYes : JsonDump::kNo};
  if (ctx.json == JsonDump::kYes) Json(&ctx, 0);
  if (!CmdlineHas(cmdline, "kmem.monitor")) return;
  monitor::Monitor m(kCommands, sizeof kCommands / sizeof kCommands[0], &ctx);
  Print("monitor: kmem.monitor: commands on the serial line, 'help' lists them\n");
  m.Prompt();
  for (;;) {
    char c;
    if (!ArchConsoleTryRead(&c)) {
      kernel::Yield();  // processes the monitor started may share its CPU; kernel code is not preempted
      continue;
    }
    if (m.Feed(c) == monitor::Action::kExit) break;
  }
  Print("monitor: left\n");
}

}  // namespace kmem::boot
