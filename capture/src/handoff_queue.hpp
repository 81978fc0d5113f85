#pragma once
// HandoffQueue: a bounded single-producer, single-consumer queue of batches between two of the
// capture's threads. Bounded by batch count and by the bytes the batches hold, so a slow
// consumer makes the producer wait instead of memory grow; waits are counted. Batches the
// consumer is done with come back (recycle/spare) so their capacity is reused.
//
// Batch needs `std::size_t held_bytes() const`, `void clear()` (keeping capacity) and to be
// movable.

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <utility>
#include <vector>

namespace reprise::capture {

template <typename Batch>
class HandoffQueue {
 public:
  HandoffQueue(std::size_t max_batches, std::size_t max_bytes)
      : max_batches_(max_batches), max_bytes_(max_bytes) {}

  // Waits while the queue is full (a batch bigger than the byte limit waits for an empty
  // queue). False (the batch dropped) once the consumer has failed.
  bool push(Batch&& b) {
    const std::size_t size = b.held_bytes();
    std::unique_lock lock(mu_);
    const auto room = [&] {
      return q_.empty() || (q_.size() < max_batches_ && bytes_ + size <= max_bytes_);
    };
    if (!room() && !failed_) ++full_waits_;
    not_full_.wait(lock, [&] { return room() || failed_; });
    if (failed_) return false;
    bytes_ += size;
    q_.push_back({std::move(b), size});
    lock.unlock();
    not_empty_.notify_one();
    return true;
  }

  // Waits for a batch; false when the producer closed the queue and it is empty.
  bool pop(Batch& b) {
    std::unique_lock lock(mu_);
    not_empty_.wait(lock, [&] { return !q_.empty() || closed_; });
    if (q_.empty()) return false;
    b = std::move(q_.front().batch);
    bytes_ -= q_.front().bytes;
    q_.pop_front();
    lock.unlock();
    not_full_.notify_one();
    return true;
  }

  // The producer is done: pop() returns false once the queue is empty.
  void close() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    not_empty_.notify_one();
  }

  // The consumer stops taking: the producer's waits and pushes return false.
  void fail() {
    {
      std::lock_guard lock(mu_);
      failed_ = true;
      q_.clear();
      bytes_ = 0;
    }
    not_full_.notify_one();
  }

  // A batch the consumer is done with, kept (cleared) for spare(): as many as can be in use at
  // once.
  void recycle(Batch&& b) {
    b.clear();
    std::lock_guard lock(mu_);
    if (spares_.size() <= max_batches_) spares_.push_back(std::move(b));
  }
  // A recycled batch, or a new one.
  Batch spare() {
    std::lock_guard lock(mu_);
    if (spares_.empty()) return Batch{};
    Batch b = std::move(spares_.back());
    spares_.pop_back();
    return b;
  }

  // Times the producer waited for room.
  std::uint64_t full_waits() {
    std::lock_guard lock(mu_);
    return full_waits_;
  }

 private:
  struct Entry {
    Batch batch;
    std::size_t bytes;  // its held_bytes() when pushed
  };

  const std::size_t max_batches_;
  const std::size_t max_bytes_;
  std::mutex mu_;
  std::condition_variable not_empty_, not_full_;
  std::deque<Entry> q_;
  std::size_t bytes_ = 0;  // Entry::bytes of q_
  std::vector<Batch> spares_;
  std::uint64_t full_waits_ = 0;
  bool closed_ = false;
  bool failed_ = false;
};

}  // namespace reprise::capture
