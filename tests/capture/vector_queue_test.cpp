#include "reprise/capture/vector_queue.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <vector>

using reprise::capture::VectorQueue;

TEST_CASE("vector queue: first in, first out, across compactions", "[capture][queue]") {
  VectorQueue<int> q;
  CHECK(q.empty());
  int next_in = 0, next_out = 0;
  // Uneven pushes and pops: the consumed front is dropped many times along the way.
  for (int round = 0; round < 200; ++round) {
    for (int i = 0; i < round % 7 + 1; ++i) q.push_back(next_in++);
    for (int i = 0; i < round % 5 + 1 && !q.empty(); ++i) {
      CHECK(q.front() == next_out++);
      q.pop_front();
    }
    REQUIRE(q.size() == static_cast<std::size_t>(next_in - next_out));
    if (!q.empty()) CHECK(q.back() == next_in - 1);
  }
  std::vector<int> rest(q.begin(), q.end());
  for (std::size_t i = 0; i < rest.size(); ++i) CHECK(rest[i] == next_out + static_cast<int>(i));
  q.clear();
  CHECK(q.empty());
}

TEST_CASE("vector queue: insert and erase in the middle, and popped elements let go",
          "[capture][queue]") {
  VectorQueue<std::shared_ptr<int>> q;
  auto watched = std::make_shared<int>(1);
  q.push_back(watched);
  q.push_back(std::make_shared<int>(3));
  q.pop_front();  // the queue no longer holds `watched`
  CHECK(watched.use_count() == 1);
  q.push_back(std::make_shared<int>(4));
  q.insert(q.begin(), std::make_shared<int>(2));
  q.erase(q.begin() + 1);  // 3
  std::vector<int> values;
  for (const auto& p : q) values.push_back(*p);
  CHECK(values == std::vector<int>{2, 4});
}
