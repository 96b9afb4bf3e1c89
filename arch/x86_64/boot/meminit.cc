#include "arch/x86_64/boot/meminit.h"

#include "arch/x86_64/kernel_cpu.h"
#include "arch/x86_64/kernel_image.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/pc/legacy.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"
#include "mm/memmap/e820.h"
#include "mm/memmap/parse.h"
#include "mm/memmap/probe.h"

namespace kmem::boot {
namespace {

// Static: the tables are 12 KiB each, too big for the 16 KiB boot stack. The map spans every address an
// x86_64 CPU can have; what this one cannot reach MemInit reserves, so that the log says so.
Memmap memmap(x86::kArchPhysLimit);
InstalledRam installed;
x86::Mtrrs mtrrs;
E820Map firmware;
E820Map sanitised;

void Check(MemmapStatus s, const char* what) {
  if (s != MemmapStatus::kOk) Panic("meminit: %s: %s", what, MemmapStatusName(s));
}

void Reserve(const char* what, PhysAddr base, uint64_t size) {
  Print("meminit: reserving %s [0x%lx, 0x%lx)\n", what, base.value(), (base + size).value());
  Check(memmap.Add(base, size, MemType::kReserved), what);
}

// The memory test's view of physical memory: [0, 2 GiB) through the boot tables' KZERO window, anything
// else through a 4 MiB probe window of two 2 MiB pages in a page directory of its own, hung from the boot
// PDPT's free entry 2 (at 0xffffff8080000000 through PML4 entry 511) and remapped chunk by chunk. Which
// chunks are write-back, and so may be probed at all, the MTRRs say.
class ProbeMemory {
 public:
  explicit ProbeMemory(const x86::Mtrrs& types) : types_(types) {
    boot_pdpt[kSlot] = x86::PhysAddrOfKzero(VirtAddr(reinterpret_cast<uintptr_t>(pd_))).value() | kPresentWritable;
  }
  ~ProbeMemory() {
    boot_pdpt[kSlot] = 0;
    Invalidate();
  }

  bool WriteBack(PhysAddr chunk, uint64_t size) const {
    const x86::RangeType t = types_.TypeOf(chunk, size);
    return t.uniform == x86::Uniform::kYes && t.type == x86::MemoryType::kWriteBack;
  }
  uint32_t Read(PhysAddr pa) { return *Word(pa); }
  void Write(PhysAddr pa, uint32_t v) { *Word(pa) = v; }

 private:
  static constexpr unsigned kSlot = 2;
  static constexpr uint64_t kWindow = 0xffffff8000000000 + kSlot * x86::k1G;
  static constexpr uint64_t kPresentWritable = x86::pte::kPresent | x86::pte::kWrite;

  volatile uint32_t* Word(PhysAddr pa) {
    if (pa.value() < x86::kKzeroWindow) return x86::KzeroPointer<volatile uint32_t>(pa);
    const PhysAddr chunk = pa.AlignedDown(kMemTestChunk);
    if (chunk != mapped_) {
      for (unsigned i = 0; i < 2; ++i) pd_[i] = (chunk + i * x86::k2M).value() | kPresentWritable | x86::pte::kLarge;
      Invalidate();
      mapped_ = chunk;
    }
    return reinterpret_cast<volatile uint32_t*>(kWindow + (pa - chunk));
  }
  void Invalidate() {
    for (unsigned i = 0; i < 2; ++i) cpu_.Invlpg(VirtAddr(kWindow + i * x86::k2M));
  }

  const x86::Mtrrs& types_;
  x86::KernelCpuOps cpu_;
  PhysAddr mapped_;
  alignas(4096) static inline uint64_t pd_[512];
};

// Reads, prints and sanitises the loader's map; false when there is none or it is malformed.
bool FirmwareMap(const MultibootInfo& mbi) {
  if ((mbi.flags & MultibootInfo::kMemMap) == 0) {
    Print("multiboot: no memory map (lower %u KiB, upper %u KiB)\n", mbi.mem_lower_kib, mbi.mem_upper_kib);
    return false;
  }
  ParseResult r =
      ParseMultibootMmap(x86::KzeroPointer<const uint8_t>(PhysAddr(mbi.mmap_addr)), mbi.mmap_length, &firmware);
  if (r.status != ParseStatus::kOk) {
    Print("multiboot: memory map entry %lu: %s; ignoring the map\n", r.line, r.reason);
    return false;
  }
  Print("multiboot memory map: base, end (exclusive), E820 type\n");
  E820Print(firmware, "  ");
  uint64_t ram = 0;
  for (size_t i = 0; i < firmware.count; ++i) {
    const E820Entry& e = firmware.entry[i];
    if (e.type == kE820Ram && e.end > e.base) ram += static_cast<uint64_t>(e.end - e.base);
  }
  Print("multiboot RAM: %lu KiB\n", ram >> 10);

  E820Report report;
  if (E820Sanitise(firmware, &sanitised, &report) != E820Status::kOk) {
    Print("e820: the sanitised map needs more than %lu entries; ignoring the map\n", E820Map::kCapacity);
    return false;
  }
  Print("e820: sanitised (%lu empty dropped, %lu clipped at 2^64, %lu unknown types counted reserved)\n",
        report.dropped_empty, report.clipped, report.unknown_types);
  E820Print(sanitised, "");
  Print("\n");
  Check(x86::PcAddE820(sanitised, &memmap), "adding the E820 map");
  return true;
}

// No usable map: the legacy lower memory size if the loader gave one, then 4 MiB chunks from the first
// chunk past the kernel up to what the CPU and the direct map reach.
void MemoryTest(const MultibootInfo& mbi, PhysAddr phys_limit) {
  if ((mbi.flags & MultibootInfo::kMemSizes) != 0) {
    Check(x86::PcAddRam(&memmap, 0, uint64_t{mbi.mem_lower_kib} << 10), "adding low RAM");
  }
  uint64_t from;
  AlignUp(x86::ImagePhysAddr(_end).value(), kMemTestChunk, &from);
  // The kernel runs from [1 MiB, from), so that much is RAM without testing.
  Check(x86::PcAddRam(&memmap, 0x100000, from), "adding the kernel's RAM");
  MemTestResult r;
  {
    ProbeMemory mem(mtrrs);
    r = MemTest(mem, PhysAddr(from), Min(phys_limit, PhysAddr(x86::kDirectMapMax)), &memmap);
  }
  Check(r.status, "adding tested RAM");
  Print("meminit: memory test found RAM up to 0x%lx\n", r.end.value());
  Print("meminit: memory test: %lu MiB RAM in 4 MiB chunks from 0x%lx, %lu MiB skipped (not write-back), %lu MiB "
        "of holes below 32 MiB\n",
        r.ram >> 20, from, r.skipped >> 20, r.holes >> 20);
  Check(x86::PcAddLegacy(&memmap), "adding the legacy PC rules");
}

size_t Length(const char* s) {
  size_t n = 0;
  while (s[n] != '\0') ++n;
  return n;
}

void RecordInstalledRam() {
  for (const MemRange& r : memmap.Ranges(MemType::kRam)) {
    if (installed.n == InstalledRam::kMaxRanges) {
      Panic("meminit: more than %zu RAM ranges", InstalledRam::kMaxRanges);
    }
    installed.range[installed.n++] = RamRange{r.base, r.size};
  }
}

// After the loader's structures are reserved, so that one of them on the page is caught here rather than
// overwritten when the SMP start-up copies the trampoline there.
void ReserveApTrampoline() {
  const PhysAddr page(x86::kApTrampoline);
  MemRange free;
  if (!memmap.Next(page, MemType::kRam, &free) || free.base > page || free.end() < page + kPageSize) {
    Panic("meminit: the AP trampoline page [0x%lx, 0x%lx) is not free RAM", page.value(), (page + kPageSize).value());
  }
  Reserve("AP trampoline", page, kPageSize);
}

}  // namespace

const InstalledRam& ArchInstalledRam() { return installed; }
const x86::Mtrrs& MemMtrrs() { return mtrrs; }

Memmap& MemInit(const MultibootInfo& mbi, PhysAddr info_pa, MemSource source, const x86::CpuInfo& cpu) {
  x86::KernelMsrs msrs;
  mtrrs = x86::Mtrrs::Read(msrs, cpu);
  mtrrs.Dump();
  const PhysAddr phys_limit = cpu.PhysLimit();
  if (source != MemSource::kFirmwareMap || !FirmwareMap(mbi)) MemoryTest(mbi, phys_limit);
  // Before the RAM is recorded: RAM a map claims beyond the CPU's reach is not RAM the kernel can map.
  if (phys_limit < memmap.limit()) {
    Reserve("what the CPU cannot address", phys_limit, memmap.limit() - phys_limit);
  }
  RecordInstalledRam();

  // Page 0 holds the real-mode interrupt vectors and BIOS data; firmware calls it RAM, and keeping it
  // out of the allocators also keeps physical address 0 from ever being handed out.
  Reserve("page 0", PhysAddr(0), kPageSize);
  Reserve("kernel image", x86::ImagePhysAddr(_kernel_start), x86::ImageBytes());
  Reserve("multiboot info", info_pa, sizeof(MultibootInfo));
  if ((mbi.flags & MultibootInfo::kMemMap) != 0 && mbi.mmap_length != 0) {
    Reserve("multiboot memory map", PhysAddr(mbi.mmap_addr), mbi.mmap_length);
  }
  if ((mbi.flags & MultibootInfo::kCmdline) != 0) {
    PhysAddr cmdline(mbi.cmdline);
    Reserve("command line", cmdline, Length(x86::KzeroPointer<const char>(cmdline)) + 1);
  }
  ReserveApTrampoline();
  size_t roms = 0;
  const PhysAddr isa(x86::kIsaWindowBase);
  Check(x86::ScanOptionRoms(x86::KzeroPointer<const volatile uint8_t>(isa), &memmap, &roms), "reserving option ROMs");
  Print("meminit: %lu option ROMs in [0x%lx, 0x%lx)\n", roms, isa.value(), (isa + x86::kIsaWindowSize).value());
  memmap.Dump();
  return memmap;
}

}  // namespace kmem::boot
