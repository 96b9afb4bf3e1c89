"""freestanding_cc_toolchain: one of kmem's clang + lld C++ toolchains (its configuration made by a rule
of kernel_cc_toolchain_config.bzl or user_cc_toolchain_config.bzl), registered for x86_64 platforms without
an OS that carry `space` (//platforms:kernel_space or //platforms:user_space), built on the Linux host."""

def freestanding_cc_toolchain(name, config, identifier, space):
    native.cc_toolchain(
        name = name,
        all_files = ":empty",
        ar_files = ":empty",
        as_files = ":empty",
        compiler_files = ":empty",
        dwp_files = ":empty",
        linker_files = ":empty",
        objcopy_files = ":empty",
        strip_files = ":empty",
        supports_param_files = 1,
        toolchain_config = config,
        toolchain_identifier = identifier,
    )
    native.toolchain(
        name = name + "_toolchain",
        exec_compatible_with = [
            "@platforms//os:linux",
            "@platforms//cpu:x86_64",
        ],
        target_compatible_with = [
            "@platforms//os:none",
            "@platforms//cpu:x86_64",
            space,
        ],
        toolchain = ":" + name,
        toolchain_type = "@bazel_tools//tools/cpp:toolchain_type",
    )
