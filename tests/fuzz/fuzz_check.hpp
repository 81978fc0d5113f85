#pragma once
// FUZZ_CHECK: a contract the code under test must keep for every input. A broken one aborts
// with the condition and place on stderr, which libFuzzer reports as a crash and saves the
// input for; in the corpus test (corpus_test.cpp) the test binary dies and the test fails.

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                   \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "fuzz check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                        \
    }                                                                                      \
  } while (false)
