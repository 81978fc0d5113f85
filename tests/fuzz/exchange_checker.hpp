#pragma once
// ExchangeChecker: the contracts of every HttpExchange the capture core emits (http_exchange.hpp,
// exchange_assembler.hpp), checked on each, and the record built from it must pass the trace
// format's verifier, as the writer's readers require.

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "reprise/capture/http_exchange.hpp"

namespace reprise::fuzz {

class ExchangeChecker {
 public:
  explicit ExchangeChecker(std::uint64_t max_body) : max_body_(max_body) {}
  void operator()(const capture::HttpExchange& x);
  std::uint64_t exchanges() const { return exchanges_; }

 private:
  std::uint64_t max_body_;
  std::uint64_t exchanges_ = 0;
  std::unordered_map<std::uint64_t, std::uint32_t> next_index_;  // per connection id
  std::vector<std::uint8_t> record_;  // scratch
};

}  // namespace reprise::fuzz
