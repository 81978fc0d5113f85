// The libFuzzer entry point of one target: built once per target with REPRISE_FUZZ_TARGET set
// to its function (tests/fuzz/CMakeLists.txt).

#include "targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return reprise::fuzz::REPRISE_FUZZ_TARGET(data, size);
}
