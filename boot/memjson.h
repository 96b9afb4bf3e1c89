// The machine-readable memory dump (`-append kmem.json`, the monitor's `json`): one JSON object a line,
// each with a "kmem" key naming it, for //tools:memviz and other readers of the serial log:
//   {"kmem":"memmap","ranges":[{"base":B,"end":E,"type":"RAM","use":"free"},...]}    the typed map
//   {"kmem":"buddyinfo","backend":...,"total_pages":...,"free_pages":...,"user_pages":...,"free_blocks":[...],
//    "zones":[{"name":"DMA","total_pages":...,"free_pages":...,"user_pages":...,"free_blocks":[...]},...]}
//                                    in all, then each zone that has memory, lowest first
//   {"kmem":"regions","region_bytes":R,"end":E,"free_pages":[...]}   free pages of each region [iR, iR+R)
//   {"kmem":"pools","pools":[{"name":...,"live_blocks":...,...},...],"kmalloc":{...}}
// Numbers are decimal integers. R is 2 MiB, doubled while RAM would need more than kMaxRegions regions.
#pragma once

#include "mm/memmap/memmap.h"
#include "mm/palloc/kernel_palloc.h"

namespace kmem::boot {

void PrintMemJson(const Memmap& map, const KernelPalloc& palloc);

}  // namespace kmem::boot
