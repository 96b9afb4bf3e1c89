"""The page-frame allocator's backends, stated once.

Each backend is NAME: its header mm/palloc/HDR declares the C++ class CLS (which satisfies palloc.h's
PallocBackend concept) and its library is //mm/palloc:NAME_backend. The flag's allowed values and its
config_settings, the kernel's select, kernel_image's pins and the boot test matrix all come from this list,
so a third backend is one entry here plus its library.
"""

load("@bazel_skylib//rules:common_settings.bzl", "string_flag")

PALLOC_BACKENDS = {
    "buddy": struct(hdr = "buddy.h", cls = "BuddyBackend"),
    "colour": struct(hdr = "colour.h", cls = "ColourBackend"),
}

PALLOC_BACKEND_NAMES = PALLOC_BACKENDS.keys()

def palloc_backend_flag(name, default):
    """--//mm/palloc:NAME=BACKEND and one config_setting per backend, named after it."""
    string_flag(name = name, build_setting_default = default, values = PALLOC_BACKEND_NAMES)
    for backend in PALLOC_BACKEND_NAMES:
        native.config_setting(name = backend, flag_values = {":" + name: backend})

def palloc_backend_defines():
    """The kernel library's defines for the flag's backend: its header and its class (kernel_palloc.h)."""
    return select({
        "//mm/palloc:" + n: [
            'KMEM_PALLOC_BACKEND_HEADER=\\"mm/palloc/%s\\"' % e.hdr,
            "KMEM_PALLOC_BACKEND_CLASS=" + e.cls,
        ]
        for n, e in PALLOC_BACKENDS.items()
    })

def palloc_backend_deps():
    """The flag's backend library. No default: a build names a listed backend or does not build."""
    return select({"//mm/palloc:" + n: [":%s_backend" % n] for n in PALLOC_BACKEND_NAMES})
