# kmem's gdb commands, in the manner of Linux's scripts/gdb: `kmem ptdump [CR3]`, `kmem translate VA`,
# `kmem buddyinfo`, `kmem page PA`, `kmem pools`, `kmem cpus`, and with a kernel built with --//mm/pool:tags
# `kmem leaks`. Load it with
#   gdb bazel-bin/boot/kernel.elf -x tools/gdb/kmem.py -ex 'target remote :1234'
# after `bazel run //boot:qemu -- --gdb`, and stop the kernel somewhere past the step you want to look at
# (`hbreak kmem::boot::ArchSelfTests`, `continue`).
#
# Every layout comes from the kernel's own debug info: the structures through gdb.parse_and_eval and their
# fields by name, the constants (page shift, PTE bits, the direct map) from the kernel's constexpr
# variables. Nothing here repeats an offset; a renamed field fails loudly as a gdb.error naming it. The
# output follows the kernel's own print-outs (ptdump's run lines, palloc's free-block table, PoolDump and
# KmemDump), so a boot log and a gdb session read alike; tools/gdb/kmem_gdb_test.sh holds them to that.
import struct

import gdb

_PALLOC = "'kmem::boot::(anonymous namespace)::palloc'"
_MMU = "'kmem::boot::(anonymous namespace)::mmu'"
_MACHS = "'kmem::boot::(anonymous namespace)::machs'"
_ONLINE = "'kmem::(anonymous namespace)::online'"
_POOLS = ("'kmem::pool::mainmem'", "'kmem::pool::imagmem'", "'kmem::pool::secrmem'")
_CACHES = "'kmem::pool::(anonymous namespace)::all_caches'"
_MAGAZINES = "'kmem::pool::(anonymous namespace)::magazines'"
_LIVE = "'kmem::kernel::(anonymous namespace)::live'"


def _const(name):
    return int(gdb.parse_and_eval("'%s'" % name))


def _addr(value):
    """The integer in a PhysAddr/VirtAddr (kmem::Address<Space>) or a plain integer value."""
    if value.type.strip_typedefs().code == gdb.TYPE_CODE_STRUCT:
        return int(value["value_"])
    return int(value)


def _words(address, count):
    data = gdb.selected_inferior().read_memory(address, count * 8)
    return struct.unpack("<%dQ" % count, bytes(data))


def _format_size(nbytes):
    """mm/base/format.cc FormatSize: the largest unit that divides the size exactly."""
    for shift, unit in ((30, "G"), (20, "M"), (10, "K")):
        if nbytes != 0 and nbytes % (1 << shift) == 0:
            return "%d%s" % (nbytes >> shift, unit)
    return "%dB" % nbytes


class PageTables:
    """The x86_64 page tables as the kernel's layout.h describes them, read through the direct map."""

    def __init__(self):
        self.page_shift = _const("kmem::kPageShift")
        self.entries = _const("kmem::x86::kEntriesPerTable")
        self.index_bits = self.entries.bit_length() - 1
        self.top = _const("kmem::x86::kTopLevel")
        self.direct_map = _const("kmem::x86::kDirectMap")
        self.bit = {
            n: _const("kmem::x86::pte::k" + n)
            for n in ("Present", "Write", "User", "CacheDisable", "Large", "Global", "NoExecute", "AddrMask")
        }

    def level_size(self, level):
        return 1 << (self.page_shift + self.index_bits * level)

    def read(self, pa, count):
        try:
            return _words(self.direct_map + pa, count)
        except gdb.MemoryError:
            raise gdb.GdbError("cannot read the page table at pa 0x%x through the direct map at 0x%x: stop the "
                               "kernel once its own tables are live (after SetUpMmu)" % (pa, self.direct_map))

    def table(self, pa):
        return self.read(pa, self.entries)

    def is_leaf(self, level, entry):
        return level == 0 or (entry & self.bit["Large"]) != 0

    def leaf_pa(self, level, entry):
        return entry & self.bit["AddrMask"] & ~(self.level_size(level) - 1)

    def flags(self, entry):
        b = self.bit
        return "".join(c if on else "-" for c, on in (
            ("U", entry & b["User"]), ("W", entry & b["Write"]), ("X", not entry & b["NoExecute"]),
            ("G", entry & b["Global"]), ("C", entry & b["CacheDisable"])))

    def attrs(self, entry):
        b = self.bit
        return entry & (b["Write"] | b["User"] | b["Global"] | b["CacheDisable"] | b["NoExecute"])

    @staticmethod
    def canonical(va):
        return va | 0xFFFF000000000000 if va & (1 << 47) else va

    def leaves(self, table_pa, level=None, base=0):
        """(va, level, entry) for every present leaf, in address order (Mmu::VisitLeaves)."""
        level = self.top if level is None else level
        for i, entry in enumerate(self.table(table_pa)):
            if not entry & self.bit["Present"]:
                continue
            va = base + i * self.level_size(level)
            if self.is_leaf(level, entry):
                yield self.canonical(va), level, entry
            else:
                yield from self.leaves(entry & self.bit["AddrMask"], level - 1, va)

    def walk(self, table_pa, va):
        """(level, entry) of the leaf that maps va, or (level, None) at the first empty entry."""
        pa = table_pa
        for level in range(self.top, -1, -1):
            index = (va >> (self.page_shift + self.index_bits * level)) & (self.entries - 1)
            entry = self.read(pa + index * 8, 1)[0]
            if not entry & self.bit["Present"]:
                return level, None
            if self.is_leaf(level, entry):
                return level, entry
            pa = entry & self.bit["AddrMask"]
        raise gdb.GdbError("page-table walk of 0x%x ran past level 0" % va)


def _kernel_table():
    return _addr(gdb.parse_and_eval(_MMU)["kernel_table_"])


def _parse_int(arg, what):
    try:
        return int(gdb.parse_and_eval(arg))
    except gdb.error as e:
        raise gdb.GdbError("%s: %s" % (what, e))


class _KmemCommand(gdb.Command):
    """A `kmem NAME` subcommand: run(arg) does the work; a read of memory the stopped CPU cannot reach
    (before paging is on, the kernel's addresses are not mapped) becomes one line saying where to stop."""

    def __init__(self, name):
        super().__init__("kmem " + name, gdb.COMMAND_DATA)
        self.name = name

    def invoke(self, arg, from_tty):
        try:
            self.run(arg)
        except gdb.MemoryError as e:
            raise gdb.GdbError("kmem %s: %s: the kernel's memory is not mapped where the CPU stands; stop it "
                               "later (hbreak kmem::boot::ArchSelfTests, continue)" % (self.name, e))


class Kmem(gdb.Command):
    """kmem's views of the kernel's memory: ptdump, translate, buddyinfo, page, pools, leaks, cpus, ps, vmas."""

    def __init__(self):
        super().__init__("kmem", gdb.COMMAND_DATA, gdb.COMPLETE_COMMAND, prefix=True)


class Ptdump(_KmemCommand):
    """kmem ptdump [CR3]: the page tables at CR3 (default: the kernel's) as runs of like mappings.

    One line per run, as the kernel's MmuDump prints it: VA range, size, count x page size, flags UWXGC
    (user, writable, executable, global, uncached), first PA."""

    def __init__(self):
        super().__init__("ptdump")

    def run(self, arg):
        pt = PageTables()
        root = _parse_int(arg, "CR3") & pt.bit["AddrMask"] if arg.strip() else _kernel_table()
        run = None  # [va, pa, count, level, attrs]
        for va, level, entry in pt.leaves(root):
            size = pt.level_size(level)
            pa, attrs = pt.leaf_pa(level, entry), pt.attrs(entry)
            if run and run[3] == level and run[4] == attrs and run[0] + run[2] * size == va and \
                    run[1] + run[2] * size == pa:
                run[2] += 1
                continue
            self.print_run(pt, run)
            run = [va, pa, 1, level, attrs]
        self.print_run(pt, run)

    @staticmethod
    def print_run(pt, run):
        if run is None:
            return
        va, pa, count, level, attrs = run
        nbytes = count * pt.level_size(level)
        gdb.write("%016x-%016x %6s %5d x %-2s %s -> %016x\n" % (
            va, va + nbytes, _format_size(nbytes), count, _format_size(pt.level_size(level)), pt.flags(attrs), pa))


class Translate(_KmemCommand):
    """kmem translate VA [CR3]: the physical address VA maps to, the page size and the flags."""

    def __init__(self):
        super().__init__("translate")

    def run(self, arg):
        args = gdb.string_to_argv(arg)
        if len(args) not in (1, 2):
            raise gdb.GdbError("usage: kmem translate VA [CR3]")
        pt = PageTables()
        va = _parse_int(args[0], "VA") & 0xFFFFFFFFFFFFFFFF
        root = _parse_int(args[1], "CR3") & pt.bit["AddrMask"] if len(args) == 2 else _kernel_table()
        level, entry = pt.walk(root, va)
        if entry is None:
            gdb.write("0x%x: not mapped (no entry at level %d)\n" % (va, level))
            return
        size = pt.level_size(level)
        gdb.write("0x%x -> 0x%x: %s page, flags %s\n" % (
            va, pt.leaf_pa(level, entry) + (va & (size - 1)), _format_size(size), pt.flags(entry)))


class Palloc:
    """The kernel's page allocator (mm/palloc/palloc.h): its zones, their backends' free sets and every
    CPU's page caches, read-only."""

    def __init__(self):
        self.p = gdb.parse_and_eval(_PALLOC)
        self.zones = [self.p["zones_"][z] for z in range(_const("kmem::kZones"))]
        # The backend's kName is a constexpr the compiler folds away; its class is kmem::<Name>Backend.
        backend_type = self.zones[0]["backend"].type.strip_typedefs()
        self.name = backend_type.name.split("::")[-1].replace("Backend", "").lower()
        self.banks = [self.p["banks_"][i] for i in range(int(self.p["nbanks_"]))]
        self.orders = _const("kmem::kOrders")
        self.cached_orders = _const("kmem::kCachedOrders")
        self.cpus = [self.p["cpus_"]["slot_"][c]["value"] for c in range(_const("kmem::kMaxCpus"))]
        names = gdb.parse_and_eval("'kmem::kZoneNames'")
        self.zone_names = [names[z].string() for z in range(len(self.zones))]

    def buddy_banks(self, z):
        buddy = self.zones[z]["backend"]["buddy_"]
        return [buddy["banks_"][i] for i in range(int(buddy["nbanks_"]))]

    def order0_outside_bitmaps(self, z):
        """Free single pages zone z's backend holds outside the buddy bitmaps: the buddy backend's cache,
        the colour backend's per-colour lists."""
        backend = self.zones[z]["backend"]
        names = [f.name for f in backend.type.strip_typedefs().fields()]
        if "ncache_" in names:
            return int(backend["ncache_"])
        if "list_pages_" in names:
            return int(backend["list_pages_"])
        return 0

    def free_blocks(self, z):
        """Zone z's free blocks per order, the CPUs' cached blocks included (Palloc::ZoneStats)."""
        counts = [0] * self.orders
        counts[0] = self.order0_outside_bitmaps(z)
        for cpu in self.cpus:
            for k in range(self.cached_orders):
                counts[k] += int(cpu["of"][z]["count"][k])
        for bank in self.buddy_banks(z):
            for k in range(int(bank["max_order"]) + 1):
                counts[k] += int(bank["trees"][k]["count_"])
        return counts

    def cached_blocks(self):
        """Each CPU's cached blocks per cached order, all zones together."""
        return [[sum(int(cpu["of"][z]["count"][k]) for z in range(len(self.zones)))
                 for k in range(self.cached_orders)] for cpu in self.cpus]

    def users(self, z):
        return sum(int(cpu["users"][z]) for cpu in self.cpus)

    def bank_of(self, pfn):
        for i, bank in enumerate(self.banks):
            if int(bank["base"]) <= pfn < int(bank["base"]) + int(bank["npages"]):
                return i, bank
        return None, None

    @staticmethod
    def bit(words_ptr, i):
        return (_words(int(words_ptr) + (i >> 6) * 8, 1)[0] >> (i & 63)) & 1

    def allocated_order(self, bank, pfn):
        """(order, head pfn) of the allocated block holding pfn, from palloc's head bitmaps, or None."""
        offset = pfn - int(bank["origin"])
        for k in range(int(bank["max_order"]) + 1):
            if self.bit(bank["heads"][k], offset >> k):
                return k, int(bank["origin"]) + ((offset >> k) << k)
        return None

    def free_order(self, bank_index, pfn):
        """(order, head pfn) of the free block in the buddy bitmaps that holds pfn, or None."""
        z = int(self.banks[bank_index]["zone"])
        bank = self.buddy_banks(z)[bank_index - int(self.zones[z]["first_bank"])]
        offset = pfn - int(bank["origin"])
        for k in range(int(bank["max_order"]) + 1):
            if self.bit(bank["trees"][k]["level_"][0], offset >> k):
                return k, int(bank["origin"]) + ((offset >> k) << k)
        return None


class Buddyinfo(_KmemCommand):
    """kmem buddyinfo: free blocks per order, in all, per zone and in each CPU's caches, as palloc's free
    table prints them."""

    def __init__(self):
        super().__init__("buddyinfo")

    def run(self, arg):
        pa = Palloc()
        page_shift = _const("kmem::kPageShift")
        per_zone = [pa.free_blocks(z) for z in range(len(pa.zones))]
        counts = [sum(c[k] for c in per_zone) for k in range(pa.orders)]
        total = sum(int(b["npages"]) for b in pa.banks)
        free = sum(n << k for k, n in enumerate(counts))
        users = sum(pa.users(z) for z in range(len(pa.zones)))
        gdb.write("palloc: %s backend, %d banks, %d MiB: %d pages, %d free, %d user\n" % (
            pa.name, int(pa.p["ninput_banks_"]), total >> (20 - page_shift), total, free, users))
        gdb.write("palloc: free blocks per order:%s\n" % "".join(" %d:%d" % (k, n) for k, n in enumerate(counts)))
        for z, zone in enumerate(pa.zones):
            if int(zone["total_pages"]) == 0:
                continue
            zc = per_zone[z]
            gdb.write("palloc: zone %s: %d banks, %d pages, %d free, %d user; free blocks per order:%s\n" % (
                pa.zone_names[z], int(zone["nbanks"]), int(zone["total_pages"]), sum(n << k for k, n in enumerate(zc)),
                pa.users(z), "".join(" %d:%d" % (k, n) for k, n in enumerate(zc))))
        for c, blocks in enumerate(pa.cached_blocks()):
            pages = sum(n << k for k, n in enumerate(blocks))
            if pages != 0:
                gdb.write("palloc: cpu%d caches %d free pages; blocks per order:%s\n" % (
                    c, pages, "".join(" %d:%d" % (k, n) for k, n in enumerate(blocks))))


class PageCmd(_KmemCommand):
    """kmem page PA: the descriptor of the frame holding PA, in words."""

    def __init__(self):
        super().__init__("page")

    def run(self, arg):
        if not arg.strip():
            raise gdb.GdbError("usage: kmem page PA")
        page_shift = _const("kmem::kPageShift")
        pa_arg = _parse_int(arg, "PA")
        pfn = pa_arg >> page_shift
        pa = Palloc()
        index, bank = pa.bank_of(pfn)
        if bank is None:
            gdb.write("pa 0x%x: in no palloc bank (not a user page: kernel, firmware or a hole)\n" % pa_arg)
            return
        page = bank["pages"][pfn - int(bank["base"])]
        state = self.state(pa, index, bank, pfn, page_shift)
        gdb.write("pa 0x%x: pfn 0x%x, bank %d, colour %d, %s; descriptor at 0x%x: ref %d, va 0x%x, flags 0x%x\n" % (
            pfn << page_shift, pfn, index, int(page["colour"]), state, int(page.address), int(page["ref"]),
            int(page["va"]), int(page["flags"])))

    @staticmethod
    def state(pa, index, bank, pfn, page_shift):
        use = int(bank["pages"][pfn - int(bank["base"])]["use"])
        if use == int(gdb.parse_and_eval("kmem::PageUse::kUser")):
            return "a user page"
        if use == int(gdb.parse_and_eval("kmem::PageUse::kCached")):
            return "free, in a CPU's page cache"
        allocated = pa.allocated_order(bank, pfn)
        if allocated is not None:
            k, head = allocated
            return "allocated in a block of order %d at 0x%x" % (k, head << page_shift)
        free = pa.free_order(index, pfn)
        if free is not None:
            return "free in a block of order %d at 0x%x" % (free[0], free[1] << page_shift)
        return "free, held by the %s backend as a single page" % pa.name


class Pools(_KmemCommand):
    """kmem pools: the pools and slab caches, as the kernel's PoolDump and KmemDump print them."""

    def __init__(self):
        super().__init__("pools")

    def run(self, arg):
        gdb.write("pool       live blocks   live bytes   peak bytes        grown        limit\n")
        for name in _POOLS:
            p = gdb.parse_and_eval(name)
            s = p["stats"]
            gdb.write("%-10s %11d %12d %12d %12d %12d\n" % (
                p["config"]["name"].string(), int(s["live_blocks"]), int(s["live_bytes"]), int(s["peak_bytes"]),
                int(p["grown"]), int(p["config"]["limit"])))
        gdb.write("cache              size  live objects   live bytes   peak bytes  slabs  slab bytes\n")
        c = gdb.parse_and_eval(_CACHES)
        cpus = gdb.parse_and_eval(_MAGAZINES)["slot_"]
        while int(c) != 0:
            # The counters are per CPU (slab.cc's Magazine), summed as KmemCacheStats does.
            mags = [cpus[i]["value"]["slot"][int(c["magazine"])] for i in range(cpus.type.range()[1] + 1)]
            live = (sum(int(m["allocs"]) for m in mags) - sum(int(m["frees"]) for m in mags)) % (1 << 64)
            peak = max([live] + [int(m["peak_live"]) for m in mags])
            size = int(c["size"])
            owned = c["owned"]  # each owner CPU's slab lists
            slabs = sum(int(owned[i]["slabs"]) for i in range(owned.type.range()[1] + 1))
            gdb.write("%-16s %6d %13d %12d %12d %6d %11d\n" % (
                c["name"].string(), size, live, live * size, peak * size, slabs, int(c["slab_bytes"])))
            c = c["next"]


class Leaks(_KmemCommand):
    """kmem leaks: the live blocks of the pools and slab caches by allocation site, largest bytes first, with
    the function each site lies in. Needs a kernel built with --//mm/pool:tags (mm/pool/tags.h).

    The rows are the monitor's `pools` site lines (pc, live blocks, live bytes) plus the function; a pool
    block is live when it is neither an arena's end marker nor on a free list, a slab object when it is
    neither on its slab's free list nor in a CPU's magazine or bundles, as PoolSites and KmemSites count them."""

    def __init__(self):
        super().__init__("leaks")

    def run(self, arg):
        block = gdb.lookup_type("kmem::pool::BlockHeader")
        obj = gdb.lookup_type("kmem::pool::ObjHeader")
        if "pc" not in [f.name for f in block["site"].type.fields()]:
            raise gdb.GdbError("kmem leaks: this kernel was built without --//mm/pool:tags; its blocks hold no "
                               "allocation site (bazel build --//mm/pool:tags //boot:kernel, or //boot:kernel_tags)")
        sites = {}

        def add(pc, nbytes):
            blocks, total = sites.get(pc, (0, 0))
            sites[pc] = (blocks + 1, total + nbytes)

        for pc, nbytes in self.pool_blocks(block):
            add(pc, nbytes)
        for pc, nbytes in self.slab_objects(obj):
            add(pc, nbytes)
        gdb.write("site               live blocks   live bytes  function\n")
        for pc, (blocks, nbytes) in sorted(sites.items(), key=lambda s: (-s[1][1], -s[1][0], s[0])):
            gdb.write("0x%016x %11d %12d  %s\n" % (pc, blocks, nbytes, self.function(pc)))

    @staticmethod
    def function(pc):
        where = gdb.execute("info symbol 0x%x" % pc, to_string=True).strip()
        return where.split(" in section ")[0] if not where.startswith("No symbol") else "?"

    @staticmethod
    def pool_blocks(block):
        """(pc, bytes asked for) of every live block of the three pools."""
        header_ptr = block.pointer()
        for name in _POOLS:
            pool = gdb.parse_and_eval(name)
            free = set()
            for b in range(pool["bins"].type.range()[1] + 1):
                f = pool["bins"][b]
                while int(f) != 0:
                    free.add(int(f))
                    f = f["next"]
            arena = pool["arenas"]
            while int(arena) != 0:
                h = (arena.cast(gdb.lookup_type("char").pointer()) + arena.dereference().type.sizeof).cast(header_ptr)
                while int(h["size"]) != 0:  # the arena's end marker
                    if int(h) not in free:
                        yield int(h["site"]["pc"]), int(h["req"])
                    h = (h.cast(gdb.lookup_type("char").pointer()) + int(h["size"])).cast(header_ptr)
                arena = arena["next"]

    @staticmethod
    def slab_objects(obj):
        """(pc, object size) of every live object of every cache, read a slab at a time."""
        offset = {f.name: f.bitpos // 8 for f in obj.fields()}
        pc_offset = offset["site"] + obj["site"].type["pc"].bitpos // 8
        cpus = gdb.parse_and_eval(_MAGAZINES)["slot_"]
        c = gdb.parse_and_eval(_CACHES)
        while int(c) != 0:
            mags = [cpus[i]["value"]["slot"][int(c["magazine"])] for i in range(cpus.type.range()[1] + 1)]
            free = {int(m["obj"][k]) for m in mags for k in range(int(m["count"]))}
            half = int(c["magazine_cap"]) // 2  # each bundle an array of half a magazine's objects
            for m in mags:
                free |= {int(m["bundle"][b]["obj"][k]) for b in range(int(m["bundles"])) for k in range(half)}
            first, stride, per_slab = int(c["first"]), int(c["stride"]), int(c["per_slab"])
            owned = c["owned"]  # each owner CPU's slab lists
            heads = [owned[i][name] for i in range(owned.type.range()[1] + 1) for name in ("partial", "full")]
            for head in heads:  # an empty slab holds nothing live
                s = head
                while int(s) != 0:
                    base = int(s)
                    data = bytes(gdb.selected_inferior().read_memory(base, int(c["slab_bytes"])))

                    def word(addr):
                        return struct.unpack_from("<Q", data, addr - base)[0]

                    stack = s.dereference().type.sizeof  # the free stack, one index byte an object, follows
                    free |= {base + first + data[stack + k] * stride for k in range(int(s["nfree"]))}
                    for i in range(per_slab):
                        p = base + first + i * stride
                        if p not in free:
                            yield word(p - obj.sizeof + pc_offset), int(c["size"])
                    s = s["next"]
            c = c["next"]


class Cpus(_KmemCommand):
    """kmem cpus: each online CPU's Mach: identity, address widths, paging features, colours, APIC id, stack."""

    def __init__(self):
        super().__init__("cpus")

    def run(self, arg):
        # The CPUs online are the cross-call's set (arch/x86_64/kernel_percpu.cc), each CPU's Mach its slot
        # of machs (arch/x86_64/boot/mach.cc); CpuId itself reads GS, which is the stopped CPU's only.
        online = int(gdb.parse_and_eval(_ONLINE))
        machs = gdb.parse_and_eval(_MACHS)
        for i in range(machs.type.range()[1] + 1):
            if not online >> i & 1:
                continue
            mach = machs[i]
            n = int(mach["machno"])
            cpu = mach["cpu"]
            brand = cpu["brand"].string()
            gdb.write("cpu%d: %s%s%s family 0x%x model 0x%x stepping %d\n" % (
                n, cpu["vendor"].string(), " " if brand else "", brand, int(cpu["family"]), int(cpu["model"]),
                int(cpu["stepping"])))
            features = int(cpu["features"])
            names = [f.name.split("::")[-1][1:] for f in gdb.lookup_type("kmem::x86::CpuFeature").fields()
                     if features & int(f.enumval)]
            gdb.write("cpu%d: %d-bit physical, %d-bit virtual addresses; features %s; %d page colour%s\n" % (
                n, int(cpu["phys_bits"]), int(cpu["virt_bits"]), " ".join(names), int(cpu["colours"]),
                "" if int(cpu["colours"]) == 1 else "s"))
            gdb.write("cpu%d: apic id %d, boot stack [0x%x, 0x%x)\n" % (
                n, int(mach["apic_id"]), _addr(mach["stack_base"]), _addr(mach["stack_top"])))

def _processes():
    """The live processes (kernel/proc/table.cc's list, newest first)."""
    p = gdb.parse_and_eval(_LIVE)
    while int(p) != 0:
        yield p.dereference()
        p = p["next_live"]


def _vmas(process):
    """A process's VMAs in address order: an in-order walk of its UserVm's AVL tree (mm/vm/vma.h)."""
    stack, node = [], process["vm"]["tree_"]["root_"]
    while stack or int(node) != 0:
        while int(node) != 0:
            stack.append(node)
            node = node["left"]
        node = stack.pop()
        yield node["vma"]
        node = node["right"]


def _enum_name(value):
    """kmem::VmaKind::kText -> "text"."""
    return str(value).split("::")[-1][1:].lower()


class Ps(_KmemCommand):
    """kmem ps: the live processes, as the monitor's ps prints them: pid, name, state, CPU, threads, VMAs,
    resident."""

    def __init__(self):
        super().__init__("ps")

    def run(self, arg):
        gdb.write("  pid name             state    cpu threads  vmas  resident\n")
        for p in _processes():
            vmas = list(_vmas(p))
            ended = bool(p["ended"])
            cpu = 0 if ended or int(p["thread"]) == 0 else int(p["thread"]["cpu_"])
            gdb.write("%5d %-16s %-8s %3d %7d %5d %9d\n" % (
                int(p["pid"]), p["name"].string(), "ended" if ended else "running", cpu, int(p["live_threads"]),
                len(vmas), sum(int(v["resident"]) for v in vmas)))


class Vmas(_KmemCommand):
    """kmem vmas PID: process PID's VMAs, as the monitor's vmas and kmem.ps print them (Linux's maps)."""

    def __init__(self):
        super().__init__("vmas")

    def run(self, arg):
        pid = _parse_int(arg, "a pid")
        for p in _processes():
            if int(p["pid"]) != pid:
                continue
            gdb.write("pid %d (%s):\n" % (pid, p["name"].string()))
            for v in _vmas(p):
                prot = int(v["prot"])
                text = "r" + ("w" if prot & 1 else "-") + ("x" if prot & 2 else "-")
                gdb.write("%08x-%08x %s %-5s resident %d\n" % (
                    _addr(v["start"]), _addr(v["end"]), text, _enum_name(v["kind"]), int(v["resident"])))
            return
        raise gdb.GdbError("kmem vmas: no process %d" % pid)


Kmem()
Ptdump()
Translate()
Buddyinfo()
PageCmd()
Pools()
Leaks()
Cpus()
Ps()
Vmas()
