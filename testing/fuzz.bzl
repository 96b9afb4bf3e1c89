"""kmem_fuzz_test: one fuzz entry point (LLVMFuzzerTestOneInput), two targets.

- NAME: a libFuzzer binary (clang, AddressSanitizer and UBSan) for long runs:
      bazel run --config=fuzz //PKG:NAME -- -max_total_time=600 [CORPUS_DIR]
  copts reach only the target's own sources, so --config=fuzz (.bazelrc) instruments every library the
  harness links for coverage and the sanitizers; without it libFuzzer sees only the harness.
- NAME_regression_test: the same entry point driven by testing/fuzz_driver.cc over the checked-in corpus
  and a fixed stream of pseudo-random inputs, so every `bazel test //...` exercises it.
"""

_FUZZ_FLAGS = ["-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=undefined"]

def kmem_fuzz_test(name, srcs, deps = [], corpus = [], random_inputs = 20000, **kwargs):
    native.cc_binary(
        name = name,
        srcs = srcs,
        copts = _FUZZ_FLAGS,
        # lld: gold warns once per sanitizer symbol ("Cannot export local symbol"), hundreds of lines a build.
        linkopts = _FUZZ_FLAGS + ["-fsanitize-link-c++-runtime", "-fuse-ld=lld"],
        deps = deps + ["//testing:host_env"],
        testonly = True,
        tags = ["fuzz"],
        **kwargs
    )
    native.cc_test(
        name = name + "_regression_test",
        srcs = srcs,
        args = ["--random=%d" % random_inputs] + ["$(location %s)" % c for c in corpus],
        data = corpus,
        # The corpus and the random inputs take minutes under TSan on two busy cores (palloc's: 200 s alone,
        # past the moderate timeout's 300 s when CI runs two tests at once).
        timeout = "long",
        deps = deps + [
            "//testing:fuzz_driver",
            "//testing:host_env",
        ],
        **kwargs
    )
