"""memviz's test: a made-up log of four 2 MiB regions (all free, none free, half free, no RAM) drawn
through //tools:memviz with relative paths, then the picture's size and the colours of its regions strip
checked against the data; a log without dumps and a missing log are errors."""
import json
import os
import subprocess
import sys
import tempfile

import matplotlib.image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import memviz  # noqa: E402  (for the layout constants)

MIB = 1 << 20
LOG = [
    "kmem: boot ok",
    json.dumps({"kmem": "memmap", "ranges": [
        {"base": 0, "end": 6 * MIB, "type": "RAM", "use": "free"},
        {"base": 6 * MIB, "end": 8 * MIB, "type": "Reserved", "use": "free"}]}),
    json.dumps({"kmem": "buddyinfo", "backend": "buddy", "total_pages": 1536, "free_pages": 768,
                "user_pages": 0, "free_blocks": [0] * 8 + [1, 1] + [0] * 9}),
    json.dumps({"kmem": "regions", "region_bytes": 2 * MIB, "end": 6 * MIB, "free_pages": [512, 0, 256, 0]}),
]


def fail(why):
    print("FAIL (memviz): " + why)
    sys.exit(1)


def run(cwd, *args):
    return subprocess.run(["tools/memviz", *args], env=dict(os.environ, BUILD_WORKING_DIRECTORY=cwd),
                          capture_output=True, text=True)


def pixel(image, region, regions):
    left, bottom, width, height = memviz.REGIONS_AXES
    x = int((left + width * (region + 0.5) / regions) * memviz.WIDTH)
    y = int((1 - bottom - height / 2) * memviz.HEIGHT)
    return image[y, x, :3]


def main():
    work = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
    with open(os.path.join(work, "boot.log"), "w") as f:
        f.write("\r\n".join(LOG) + "\r\n")
    r = run(work, "boot.log", "-o", "out.png")
    if r.returncode != 0:
        fail("memviz exited with %d: %s" % (r.returncode, r.stderr))
    image = matplotlib.image.imread(os.path.join(work, "out.png"))
    if image.shape[:2] != (memviz.HEIGHT, memviz.WIDTH):
        fail("picture is %s, want %dx%d" % (image.shape, memviz.WIDTH, memviz.HEIGHT))
    free, used, half, none = (pixel(image, i, 4) for i in range(4))
    if not (free[1] > free[0] + 0.2):
        fail("the all-free region is not green: %s" % free)
    if not (used[0] > used[1] + 0.2):
        fail("the fully used region is not red: %s" % used)
    if not (abs(none[0] - none[1]) < 0.05 and abs(none[1] - none[2]) < 0.05):
        fail("the region without RAM is not grey: %s" % none)
    if not (half[0] > 0.6 and half[1] > 0.6):
        fail("the half-free region is not yellow: %s" % half)

    with open(os.path.join(work, "plain.log"), "w") as f:
        f.write("kmem: boot ok\n")
    r = run(work, "plain.log", "-o", "plain.png")
    if r.returncode != 1 or "no memmap dump" not in r.stderr or os.path.exists(os.path.join(work, "plain.png")):
        fail("a log without dumps: exit %d, %s" % (r.returncode, r.stderr))
    r = run(work, "missing.log")
    if r.returncode != 1 or "missing.log" not in r.stderr:
        fail("a missing log: exit %d, %s" % (r.returncode, r.stderr))
    print("PASS: memviz draws %dx%d, free and used regions in their colours" % (memviz.WIDTH, memviz.HEIGHT))


main()
