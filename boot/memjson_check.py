"""memjson_check.py LOG: the kernel's JSON dumps (boot/memjson.h) in a serial log agree with its text.

The answer to the monitor's `json` (the lines after `kmem> json`) must be the four dumps, each valid JSON;
its buddyinfo must equal the `buddyinfo` answer's free-blocks line and counts, and each zone's object its
zone line, the zones adding up to the whole; its regions must add up to
the free pages, and its pools must equal the `pools` answer's table."""
import json
import sys


def answer(lines, command):
    out, on = [], False
    for line in lines:
        if line == "kmem> " + command:
            on = True
        elif line.startswith("kmem> "):
            on = False
        elif on:
            out.append(line)
    return out


def main(path):
    lines = open(path, encoding="utf-8", errors="replace").read().replace("\r", "").splitlines()
    dumps = {}
    for line in answer(lines, "json"):
        d = json.loads(line)
        dumps[d["kmem"]] = d
    assert sorted(dumps) == ["buddyinfo", "memmap", "pools", "regions"], sorted(dumps)
    b = dumps["buddyinfo"]
    text = answer(lines, "buddyinfo")
    want = "palloc: free blocks per order: " + " ".join("%d:%d" % kv for kv in enumerate(b["free_blocks"]))
    assert want in text, (want, text)
    assert text[0].startswith("palloc: %s backend, " % b["backend"]), text[0]
    assert ": %d pages, %d free, %d user" % (b["total_pages"], b["free_pages"], b["user_pages"]) in text[0]
    assert sum(n << k for k, n in enumerate(b["free_blocks"])) == b["free_pages"]
    zones = b["zones"]
    names = [z["name"] for z in zones]
    assert zones and names == sorted(names, key=["DMA", "DMA32", "normal"].index), names
    for z in zones:
        line = [t for t in text if t.startswith("palloc: zone %s: " % z["name"])]
        assert len(line) == 1, (z["name"], text)
        want = " %d pages, %d free, %d user; free blocks per order: %s" % (
            z["total_pages"], z["free_pages"], z["user_pages"],
            " ".join("%d:%d" % kv for kv in enumerate(z["free_blocks"])))
        assert line[0].endswith(want), (want, line[0])
    for key in "total_pages", "free_pages", "user_pages":
        assert sum(z[key] for z in zones) == b[key], (key, zones, b)
    assert [sum(n) for n in zip(*(z["free_blocks"] for z in zones))] == b["free_blocks"], (zones, b)
    r = dumps["regions"]
    assert sum(r["free_pages"]) == b["free_pages"], (sum(r["free_pages"]), b["free_pages"])
    assert r["region_bytes"] == 2 << 20 and len(r["free_pages"]) == -(-r["end"] // r["region_bytes"])
    ram = [x for x in dumps["memmap"]["ranges"] if x["type"] == "RAM"]
    assert ram and max(x["end"] for x in ram) == r["end"]
    table = answer(lines, "pools")
    for p in dumps["pools"]["pools"]:
        s = p["stats"]
        row = "%-10s %11d %12d %12d %12d %12d" % (p["name"], s["live_blocks"], s["live_bytes"], s["peak_bytes"],
                                                 p["grown"], p["limit"])
        assert row in table, (row, table)
    print("memjson: the JSON dumps agree with buddyinfo and pools")


main(sys.argv[1])
