"""memviz: draws the kernel's JSON memory dump (boot/memjson.h) as one picture.

    bazel run //tools:memviz -- LOG -o memory.png

LOG is a serial log of a boot with `-append kmem.json` (or of the monitor's `json` command); every line
that is a JSON object with a "kmem" key is read, anything else is skipped. The picture, WIDTH x HEIGHT
pixels, has three panels:
  - the physical address space up to the end of RAM as a strip coloured by the memory map's type;
  - below it the same span in regions (2 MiB unless the kernel chose coarser), coloured by how much of
    each region is free in the page allocator, from red (nothing free) to green (all free), grey where a
    region holds no RAM; one row per dump in the log, oldest on top, so a log taken over `stress` runs
    shows how fragmentation evolves;
  - the last dump's free blocks per order (buddyinfo) as bars.
Relative paths are taken from the directory `bazel run` was started in (BUILD_WORKING_DIRECTORY).
"""
import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.patches  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy  # noqa: E402

WIDTH, HEIGHT, DPI = 1200, 700, 100
# Panel rectangles in figure fractions (left, bottom, width, height); the test finds the regions' pixels
# through REGIONS_AXES.
TYPES_AXES = (0.06, 0.80, 0.90, 0.08)
REGIONS_AXES = (0.06, 0.52, 0.90, 0.20)
BUDDY_AXES = (0.06, 0.08, 0.90, 0.32)
TYPE_COLOURS = {"RAM": "#4c9be8", "Reserved": "#7f7f7f", "ACPI": "#e8a33c", "UMB": "#a56cc1", "UPA": "#f0f0f0"}
FREE_CMAP = "RdYlGn"
NO_RAM = "#c8c8c8"


class LogError(Exception):
    pass


def read_dumps(path):
    """The log's dumps by kind, in order: {"memmap": [obj, ...], "regions": [...], ...}."""
    dumps = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise LogError("%s: %s" % (path, e.strerror))
    for number, line in enumerate(lines, 1):
        line = line.strip("\r\n ")
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise LogError("%s:%d: not JSON: %s" % (path, number, e.msg))
        if isinstance(obj, dict) and "kmem" in obj:
            dumps.setdefault(obj["kmem"], []).append(obj)
    for kind in ("memmap", "regions", "buddyinfo"):
        if kind not in dumps:
            raise LogError("%s: no %s dump (boot with -append kmem.json)" % (path, kind))
    return dumps


def ram_in_region(ranges, base, size):
    """Bytes of RAM in [base, base + size)."""
    return sum(max(0, min(r["end"], base + size) - max(r["base"], base)) for r in ranges if r["type"] == "RAM")


def free_fractions(dumps):
    """A masked array: one row per regions dump, the fraction of each region's RAM that is free."""
    ranges = dumps["memmap"][-1]["ranges"]
    rows = []
    for d in dumps["regions"]:
        size = d["region_bytes"]
        ram = [ram_in_region(ranges, i * size, size) for i in range(len(d["free_pages"]))]
        rows.append([numpy.nan if r == 0 else min(1.0, f * 4096 / r) for f, r in zip(d["free_pages"], ram)])
    width = max(len(r) for r in rows)
    grid = numpy.full((len(rows), width), numpy.nan)
    for i, r in enumerate(rows):
        grid[i, : len(r)] = r
    return numpy.ma.masked_invalid(grid)


def draw(dumps, out):
    regions = dumps["regions"][-1]
    end = regions["region_bytes"] * len(regions["free_pages"])
    fig = plt.figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI)

    ax = fig.add_axes(TYPES_AXES)
    for r in dumps["memmap"][-1]["ranges"]:
        if r["base"] < end:
            ax.broken_barh([(r["base"], min(r["end"], end) - r["base"])], (0, 1),
                           facecolors=TYPE_COLOURS.get(r["type"], "black"))
    ax.set_xlim(0, end)
    ax.set_yticks([])
    ax.set_xticks([])
    ax.set_title("physical memory by type, 0 to %d MiB" % (end >> 20), fontsize=9)
    ax.legend(handles=[matplotlib.patches.Patch(facecolor=c, edgecolor="black", label=t)
                       for t, c in TYPE_COLOURS.items()],
              loc="lower center", bbox_to_anchor=(0.5, 1.35), ncol=len(TYPE_COLOURS), fontsize=8, frameon=False)

    ax = fig.add_axes(REGIONS_AXES)
    cmap = plt.get_cmap(FREE_CMAP).copy()
    cmap.set_bad(NO_RAM)
    ax.imshow(free_fractions(dumps), aspect="auto", interpolation="nearest", cmap=cmap, vmin=0, vmax=1,
              extent=(0, end, len(dumps["regions"]), 0))
    ax.set_xlim(0, end)
    step = 1 << max(21, (end // 8).bit_length() - 1)  # a power of two, about 8 ticks
    ticks = range(0, end + 1, step)
    ax.set_xticks(ticks)
    ax.set_xticklabels(["%d GiB" % (t >> 30) if step >= 1 << 30 else "%d MiB" % (t >> 20) for t in ticks],
                       fontsize=8)
    ax.set_yticks([])
    ax.set_ylabel("dumps", fontsize=8)
    ax.set_title("free share of each %d MiB region (red: none free, green: all free, grey: no RAM)" %
                 (regions["region_bytes"] >> 20), fontsize=9)

    ax = fig.add_axes(BUDDY_AXES)
    buddy = dumps["buddyinfo"][-1]
    blocks = buddy["free_blocks"]
    ax.bar(range(len(blocks)), blocks, color="#4c9be8")
    ax.set_xticks(range(len(blocks)))
    ax.set_xlabel("order (block of 2^order pages)", fontsize=8)
    ax.set_ylabel("free blocks", fontsize=8)
    ax.set_title("buddyinfo (%s backend): %d of %d pages free" % (
        buddy["backend"], buddy["free_pages"], buddy["total_pages"]), fontsize=9)
    fig.savefig(out, dpi=DPI)
    plt.close(fig)


def main(argv):
    parser = argparse.ArgumentParser(prog="memviz", description="Draws kmem's JSON memory dump.")
    parser.add_argument("log", help="serial log with kmem.json dumps")
    parser.add_argument("-o", "--output", default="memory.png", help="PNG to write (default memory.png)")
    args = parser.parse_args(argv)
    cwd = os.environ.get("BUILD_WORKING_DIRECTORY", os.getcwd())
    log, out = (os.path.join(cwd, p) for p in (args.log, args.output))
    try:
        draw(read_dumps(log), out)
    except LogError as e:
        print("memviz: %s" % e, file=sys.stderr)
        return 1
    print("memviz: wrote %s" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
