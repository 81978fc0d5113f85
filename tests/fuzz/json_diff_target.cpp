// Fuzz target: compare's field-by-field diff of two response bodies, which are whatever the two
// targets answered. Its result is sorted, unique and bounded, a body never differs from
// itself, and whether two bodies differ does not depend on which is the base.
//
// Input: a byte for max_paths, a 16-bit length of the base body, the base, the candidate.

#include <algorithm>

#include "fuzz_check.hpp"
#include "fuzz_input.hpp"
#include "targets.hpp"
#include "reprise/report/json_diff.hpp"

namespace reprise::fuzz {

int json_diff(const std::uint8_t* data, std::size_t size) {
  FuzzInput in(data, size);
  report::JsonDiffOptions options;
  options.max_paths = 1 + in.byte() % 64;
  const auto base = in.take(in.u16());
  const auto candidate = in.rest();
  const auto forward = report::diff_bodies(base, candidate, options);
  FUZZ_CHECK(forward.size() <= options.max_paths);
  FUZZ_CHECK(std::is_sorted(forward.begin(), forward.end(),
                            [](const auto& a, const auto& b) { return a.path < b.path; }));
  FUZZ_CHECK(std::adjacent_find(forward.begin(), forward.end(), [](const auto& a, const auto& b) {
               return a.path == b.path;
             }) == forward.end());
  for (const auto& d : forward) FUZZ_CHECK(report::valid_field_path(d.path) || d.path == report::kWholeBody);
  FUZZ_CHECK(report::diff_bodies(candidate, base, options).empty() == forward.empty());
  FUZZ_CHECK(report::diff_bodies(base, base, options).empty());
  return 0;
}

}  // namespace reprise::fuzz
