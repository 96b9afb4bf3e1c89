"""Offline repositories: Debian's packaged Bazel rules and libraries, wired without any download."""

_RULES_CC = "/usr/share/bazel/rules/cc"

def _bazel4_rules_cc_impl(rctx):
    # Debian ships rules_cc 0.0.4, written for Bazel 5: it loads and calls use_cpp_toolchain(), which
    # Bazel 4.2.3 lacks. Copy the tree and replace the call with the label it returns on Bazel 5.
    src = rctx.attr.path
    res = rctx.execute(["cp", "-R", src + "/.", "."])
    if res.return_code != 0:
        fail("copying %s failed: %s" % (src, res.stderr))
    for rel in rctx.attr.patch_files:
        text = rctx.read(rel)
        text = text.replace(', "use_cpp_toolchain")', ")")
        text = text.replace("use_cpp_toolchain()", '["@bazel_tools//tools/cpp:toolchain_type"]')
        rctx.file(rel, text, executable = False)

_bazel4_rules_cc = repository_rule(
    implementation = _bazel4_rules_cc_impl,
    local = True,
    attrs = {
        "path": attr.string(mandatory = True),
        "patch_files": attr.string_list(),
    },
)

def _offline_coverage_tools_impl(rctx):
    # Bazel 4 test rules depend on @remote_coverage_tools, which it normally downloads. Offline we say so.
    rctx.file("WORKSPACE", 'workspace(name = "remote_coverage_tools")\n')
    rctx.file("unavailable.sh", "#!/bin/sh\necho 'coverage is not available offline in kmem' >&2\nexit 1\n", executable = True)
    rctx.file("BUILD", """package(default_visibility = ["//visibility:public"])
# Coverage tools are not packaged by Debian; these targets only report that coverage is unavailable offline.
[sh_binary(name = n, srcs = ["unavailable.sh"]) for n in ["lcov_merger", "coverage_report_generator", "Main"]]
filegroup(name = "coverage_output_generator", srcs = ["unavailable.sh"])
""")

_offline_coverage_tools = repository_rule(implementation = _offline_coverage_tools_impl)

def kmem_repositories():
    _bazel4_rules_cc(
        name = "rules_cc",
        path = _RULES_CC,
        patch_files = [
            "cc/private/rules_impl/cc_flags_supplier.bzl",
            "cc/private/rules_impl/compiler_flag.bzl",
        ],
    )
    native.local_repository(name = "rules_java", path = "/usr/share/bazel/rules/java")
    native.local_repository(name = "platforms", path = "/usr/share/bazel/tools/platforms")
    native.local_repository(name = "bazel_skylib", path = "/usr/share/bazel/tools/skylib")
    _offline_coverage_tools(name = "remote_coverage_tools")
    native.new_local_repository(
        name = "com_google_googletest",
        path = "/usr/src/googletest",
        build_file = "@//third_party:googletest.BUILD",
    )
    native.new_local_repository(
        name = "com_google_benchmark",
        path = "/usr",
        build_file = "@//third_party:benchmark.BUILD",
    )
    native.new_local_repository(
        name = "com_google_absl",
        path = "/usr",
        build_file = "@//third_party:absl.BUILD",
    )
