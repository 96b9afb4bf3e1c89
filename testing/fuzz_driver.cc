// Drives a libFuzzer entry point without libFuzzer: every file named on the command line, then
// --random=N pseudo-random inputs from a fixed seed (so a failure reproduces). Used by the
// *_regression_test targets that kmem_fuzz_test (testing/fuzz.bzl) defines.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  long random_inputs = 0;
  size_t files = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--random=", 9) == 0) {
      random_inputs = std::strtol(argv[i] + 9, nullptr, 10);
      continue;
    }
    std::ifstream in(argv[i], std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "fuzz_driver: cannot read %s\n", argv[i]);
      return 1;
    }
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
    ++files;
  }
  std::mt19937_64 rng(0x6b6d656d);
  std::vector<uint8_t> buf;
  for (long n = 0; n < random_inputs; ++n) {
    buf.resize(rng() % 4096);
    for (auto& b : buf) b = static_cast<uint8_t>(rng());
    LLVMFuzzerTestOneInput(buf.data(), buf.size());
  }
  std::printf("fuzz_driver: %zu corpus files and %ld random inputs passed\n", files, random_inputs);
  return 0;
}
