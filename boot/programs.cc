#include "boot/programs.h"

#include "boot/cmdline.h"
#include "boot/counts.h"
#include "kernel/proc/proc.h"
#include "kernel/sched/sched.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"
#include "mm/base/percpu.h"

namespace kmem::boot {
namespace {

// One program to run, and how it must end for the suite (nullptr expect: any way).
struct Job {
  const char* argv[kernel::kMaxArgs];
  unsigned argc;
  kernel::Process* process;
  // The suite's expectation: killed with a message containing `why`, or exited with status 0.
  const char* why;
  bool expect_kill;
  int cpu;  // where it runs: kernel::kAnyCpu, or pinned
  kernel::ProcEnd end;
};

constexpr unsigned kMaxJobs = 80;
// The suite's crowd: memhogs at once across the CPUs, each with this many MiB.
constexpr unsigned kHogs = 64;
constexpr const char* kHogMiB = "2";
// kmem.pressuretest's crowd: pressure programs of kPressureMiB that together want 4x the free memory, each
// started kPressureGapMs after the previous and holding its memory kPressureHoldMs: about ten hold at once,
// more than memory, while a toucher alone is small, so faults wait for holders to end but rarely all wait.
constexpr unsigned kPressureMiB = 4, kPressureGapMs = 60, kPressureHoldMs = 600;
// kmem.sharedtext's crowd: copies of sharedtext at once, each checking they share one copy of its text.
constexpr unsigned kSharedText = 32;
constexpr const char* kSharedTextArg = "32";

bool Contains(const char* text, const char* part) {
  for (; *text != '\0'; ++text) {
    unsigned i = 0;
    while (part[i] != '\0' && text[i] == part[i]) ++i;
    if (part[i] == '\0') return true;
  }
  return part[0] == '\0';
}


// Splits "a:1:2,b" (the run= word's value, up to the next blank) into jobs, in place in `text`.
unsigned ParseRun(char* text, Job* jobs) {
  unsigned n = 0;
  char* p = text;
  while (*p != '\0' && *p != ' ' && n < kMaxJobs) {
    Job& j = jobs[n++];
    j = Job{};
    j.cpu = kernel::kAnyCpu;
    j.argv[j.argc++] = p;
    for (; *p != '\0' && *p != ' ' && *p != ','; ++p) {
      if (*p == ':' && j.argc < kernel::kMaxArgs) {
        *p = '\0';
        j.argv[j.argc++] = p + 1;
      }
    }
    const char end = *p;
    *p = '\0';
    if (end == ',') ++p;
  }
  return n;
}

// Starts every job, then waits for each; says how many ended as the suite expects (all, outside it).
unsigned RunJobs(Job* jobs, unsigned n, bool check) {
  for (unsigned i = 0; i < n; ++i) {
    char why[160];
    const kernel::ProcStatus st =
        kernel::Spawn(jobs[i].argc, jobs[i].argv, jobs[i].cpu, &jobs[i].process, why, sizeof why);
    if (st != kernel::ProcStatus::kOk) {
      Print("run: %s: %s: %s\n", jobs[i].argv[0], kernel::ProcStatusName(st), why);
      jobs[i].process = nullptr;
    }
  }
  unsigned as_expected = 0;
  for (unsigned i = 0; i < n; ++i) {
    if (jobs[i].process == nullptr) continue;
    const kernel::ProcEnd& end = jobs[i].end = kernel::Wait(jobs[i].process);
    bool ok = true;
    if (check) {
      ok = jobs[i].expect_kill ? end.killed && Contains(end.why, jobs[i].why) : !end.killed && end.status == 0;
      if (!ok) {
        Print("run: %s did not end as expected (%s)\n", jobs[i].argv[0], jobs[i].expect_kill ? jobs[i].why : "exit 0");
      }
    }
    if (ok) ++as_expected;
  }
  return as_expected;
}

// A job of the suite: argv, and the words its kill message must contain (nullptr: it must exit 0).
Job SuiteJob(const char* a0, const char* a1, const char* why) {
  Job j{};
  j.argv[j.argc++] = a0;
  if (a1 != nullptr) j.argv[j.argc++] = a1;
  j.why = why;
  j.expect_kill = why != nullptr;
  j.cpu = kernel::kAnyCpu;
  return j;
}

// The time jobs[0, n) spent from the first's entry into user mode to the last's end, run at once on cpu0.
uint64_t TimeOnCpu0(Job* jobs, unsigned n) {
  for (unsigned i = 0; i < n; ++i) jobs[i].cpu = 0;
  if (RunJobs(jobs, n, true) != n) Panic("run: bench: %s did not exit cleanly", jobs[0].argv[0]);
  uint64_t first = ~uint64_t{0}, last = 0;
  for (unsigned i = 0; i < n; ++i) {
    first = jobs[i].end.entered_ns < first ? jobs[i].end.entered_ns : first;
    last = jobs[i].end.left_ns > last ? jobs[i].end.left_ns : last;
  }
  return last - first;
}

// kmem.userbench's user-space shootdown: `threads bench 2 N` (the first thread on cpu0 maps, writes and
// unmaps one page N times while the second spins in the space on another CPU, which every munmap's
// shootdown asks) against `threads bench 1 N` (nobody else to ask), per round, the best of three.
void UserShootdownBench() {
  constexpr unsigned kRounds = 2000, kRuns = 3;
  if (OnlineCpus().Count() < 2) {
    Print("run: bench: the user-space shootdown needs 2 cpus\n");
    return;
  }
  uint64_t alone_ns = ~uint64_t{0}, pair_ns = ~uint64_t{0};
  for (unsigned run = 0; run < kRuns; ++run) {
    Job j[2] = {SuiteJob("threads", "bench", nullptr), SuiteJob("threads", "bench", nullptr)};
    j[0].argv[j[0].argc++] = "1";
    j[1].argv[j[1].argc++] = "2";
    for (Job& job : j) job.argv[job.argc++] = "2000";
    const uint64_t alone = TimeOnCpu0(&j[0], 1) / kRounds, pair = TimeOnCpu0(&j[1], 1) / kRounds;
    alone_ns = alone < alone_ns ? alone : alone_ns;
    pair_ns = pair < pair_ns ? pair : pair_ns;
  }
  Print("run: bench: mmap, write and munmap of one page %lu ns with one thread, %lu ns with a second thread on "
        "another cpu: its shootdown %lu ns\n",
        alone_ns, pair_ns, pair_ns > alone_ns ? pair_ns - alone_ns : 0);
}

// kmem.userbench: a demand-zero fault from user space (faults 4096 less faults 0, per page), and a context
// switch between two processes on one CPU (two yielders at once less twice one alone, per yield): both on
// cpu0, the best of three runs, so that a host preempting the vCPU only lengthens the others.
void UserBench() {
  constexpr unsigned kPages = 4096, kYields = 2000, kRuns = 3;
  uint64_t fault_ns = ~uint64_t{0}, switch_ns = ~uint64_t{0};
  bool tagged = false;
  for (unsigned run = 0; run < kRuns; ++run) {
    Job j[2] = {SuiteJob("faults", "0", nullptr), SuiteJob("faults", "4096", nullptr)};
    const uint64_t none = TimeOnCpu0(&j[0], 1), many = TimeOnCpu0(&j[1], 1);
    const uint64_t f = many > none ? (many - none) / kPages : 0;
    fault_ns = f < fault_ns ? f : fault_ns;
    Job y[3] = {SuiteJob("yield", "2000", nullptr), SuiteJob("yield", "2000", nullptr),
                SuiteJob("yield", "2000", nullptr)};
    const uint64_t alone = TimeOnCpu0(&y[0], 1), pair = TimeOnCpu0(&y[1], 2);
    const uint64_t s = pair > 2 * alone ? (pair - 2 * alone) / (2 * kYields) : 0;
    switch_ns = s < switch_ns ? s : switch_ns;
    tagged = y[1].end.tagged;
  }
  Print("run: bench: a demand-zero fault from user space %lu ns (%lu faults/s), a switch between two processes "
        "on one cpu %lu ns (%s)\n",
        fault_ns, fault_ns != 0 ? 1000000000 / fault_ns : 0, switch_ns,
        tagged ? "with PCIDs" : "without PCIDs: the CPU has none");
  UserShootdownBench();
}

// The suite: each program once, at once, each ending as it must; then the crowd of memhogs.
unsigned Suite(Job* jobs, unsigned* ok) {
  unsigned n = 0;
  jobs[n++] = SuiteJob("hello", nullptr, nullptr);
  jobs[n++] = SuiteJob("memhog", "8", nullptr);
  jobs[n++] = SuiteJob("mmapchurn", "200", nullptr);
  jobs[n++] = SuiteJob("memstat", nullptr, nullptr);
  jobs[n++] = SuiteJob("stack", nullptr, "below its limit of 1 MiB (guard gap)");
  jobs[n++] = SuiteJob("segv", "null", "read of 0x0 outside every VMA");
  jobs[n++] = SuiteJob("segv", "kernel", "read of 0xffff800000000000, a kernel address");
  jobs[n++] = SuiteJob("segv", "text", "in text VMA");
  jobs[n++] = SuiteJob("segv", "heapexec", "which forbids execution");
  jobs[n++] = SuiteJob("forktree", nullptr, nullptr);
  jobs[n++] = SuiteJob("threads", "4", nullptr);
  Job& orphans = jobs[n++] = SuiteJob("forktree", "3", nullptr);  // the kernel reaps the children nobody waits for
  orphans.argv[orphans.argc++] = "orphans";
  *ok = RunJobs(jobs, n, true);
  Print("run: suite: %u of %u programs ended as they must\n", *ok, n);
  const unsigned first = n;
  for (unsigned i = 0; i < kHogs; ++i) jobs[n++] = SuiteJob("memhog", kHogMiB, nullptr);
  const unsigned hogs = RunJobs(jobs + first, kHogs, true);
  Print("run: %u memhogs of %s MiB at once: %u exited ok\n", kHogs, kHogMiB, hogs);
  *ok += hogs;
  return n;
}

// The value of the command line's `run=` word, copied out (the command line stays as it is), or nullptr.
char* RunWord(const char* cmdline, char* buf, size_t cap) {
  for (const char* p = cmdline; *p != '\0'; ++p) {
    if ((p != cmdline && p[-1] != ' ') || p[0] != 'r' || p[1] != 'u' || p[2] != 'n' || p[3] != '=') continue;
    size_t i = 0;
    for (p += 4; *p != '\0' && *p != ' ' && i + 1 < cap; ++p) buf[i++] = *p;
    buf[i] = '\0';
    return buf;
  }
  return nullptr;
}

}  // namespace
// kmem.pressuretest: the crowd of pressure programs. With pwait they all exit 0: a fault that finds no page
// waits until one of the programs holding pages ends. Says how many exited ok, how many times processes
// slept on pwait, how many the OOM policy killed (none, unless every program waited at once) and what the
// waiters took back from the slab caches before they slept.
unsigned PressureTest(Job* jobs, uint64_t free_pages, unsigned* ok) {
  static char args[kMaxJobs][3][12];  // MiB, start, hold
  const uint64_t free_mib = free_pages * kPageSize >> 20;
  uint64_t n = 4 * free_mib / kPressureMiB;
  if (n > kMaxJobs) n = kMaxJobs;
  const kernel::PwaitCounts before = kernel::PwaitCountsNow();
  for (unsigned i = 0; i < n; ++i) {
    FormatTo(args[i][0], sizeof args[i][0], "%u", kPressureMiB);
    FormatTo(args[i][1], sizeof args[i][1], "%u", i * kPressureGapMs);
    FormatTo(args[i][2], sizeof args[i][2], "%u", kPressureHoldMs);
    jobs[i] = SuiteJob("pressure", args[i][0], nullptr);
    jobs[i].argv[jobs[i].argc++] = args[i][1];
    jobs[i].argv[jobs[i].argc++] = args[i][2];
  }
  *ok = RunJobs(jobs, static_cast<unsigned>(n), true);
  const kernel::PwaitCounts after = kernel::PwaitCountsNow();
  Print("run: pressure: %lu programs of %u MiB (%lu MiB free), %u ms apart: %u exited ok, %lu sleeps on pwait, "
        "%lu oom kills, %lu KiB reaped from the slab caches\n",
        n, kPressureMiB, free_mib, kPressureGapMs, *ok, after.sleeps - before.sleeps,
        after.oom_kills - before.oom_kills, (after.reaped_bytes - before.reaped_bytes) >> 10);
  return static_cast<unsigned>(n);
}

// kmem.sharedtext: kSharedText copies of sharedtext at once, each of which checks that its text is one copy
// in the image cache, mapped by all (user/sharedtext). Once they have ended the cache is empty.
unsigned SharedTextTest(Job* jobs, unsigned* ok) {
  for (unsigned i = 0; i < kSharedText; ++i) jobs[i] = SuiteJob("sharedtext", kSharedTextArg, nullptr);
  *ok = RunJobs(jobs, kSharedText, true);
  const ImageStats images = kernel::ImageCacheStats();
  Print("run: sharedtext: %u programs at once: %u exited ok; the image cache after: %lu images, %lu pages\n",
        kSharedText, *ok, images.images, images.pages);
  return kSharedText;
}

void RunProgramsIfAsked(const char* cmdline, KernelPalloc& palloc) {
  static char run[256];
  static Job jobs[kMaxJobs];
  const bool suite = CmdlineHas(cmdline, "kmem.usertests"), bench = CmdlineHas(cmdline, "kmem.userbench");
  const bool pressure = CmdlineHas(cmdline, "kmem.pressuretest");
  const bool sharedtext = CmdlineHas(cmdline, "kmem.sharedtext");
  char* word = RunWord(cmdline, run, sizeof run);
  if (!suite && !bench && !pressure && !sharedtext && word == nullptr) return;
  if (!kernel::AgeStart()) Print("run: no thread for the page ageing: the programs run without it\n");
  const MemCounts before = CountMem(palloc);
  if (bench) UserBench();
  unsigned n = 0, ok = 0;
  if (suite) {
    n = Suite(jobs, &ok);
  } else if (pressure) {
    n = PressureTest(jobs, before.free, &ok);
  } else if (sharedtext) {
    n = SharedTextTest(jobs, &ok);
  } else if (word != nullptr) {
    n = ParseRun(word, jobs);
    ok = RunJobs(jobs, n, false);
  }
  const MemCounts after = CountMem(palloc);
  ExpectCountsBack("run", before, after);
  char ended[48];
  if (suite) {
    FormatTo(ended, sizeof ended, "%u programs, %u as expected", n, ok);
  } else {
    FormatTo(ended, sizeof ended, "%u program%s ended", ok, ok == 1 ? "" : "s");
  }
  Print("run: %s; every page back (%lu free, %lu user pages, %lu page-table pages)\n", ended, after.free,
        after.users, after.tables);
  if (suite && ok != n) Panic("run: %u of %u programs of the suite did not end as they must", n - ok, n);
}

}  // namespace kmem::boot
