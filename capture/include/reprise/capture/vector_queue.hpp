#pragma once
// VectorQueue: a FIFO on one vector, for the per-connection queues of capture. std::deque
// allocates about 600 bytes (a map and a first node) as soon as it is constructed, empty or not:
// with five of them per TCP connection, 100,000 open connections held ~290 MB of empty deques.
// This allocates nothing until the first push_back and keeps the vector's capacity after.
//
// pop_front() moves a head index; the consumed front is dropped once it is half the vector, so
// every operation is amortized O(1) and memory stays within twice the elements held.

#include <cstddef>
#include <utility>
#include <vector>

namespace reprise::capture {

template <typename T>
class VectorQueue {
 public:
  using iterator = typename std::vector<T>::iterator;
  using const_iterator = typename std::vector<T>::const_iterator;

  bool empty() const { return head_ == items_.size(); }
  std::size_t size() const { return items_.size() - head_; }
  T& front() { return items_[head_]; }
  const T& front() const { return items_[head_]; }
  T& back() { return items_.back(); }
  const T& back() const { return items_.back(); }

  void push_back(T value) { items_.push_back(std::move(value)); }
  void pop_front() {
    items_[head_] = T();  // lets go of what it holds now
    if (++head_ * 2 >= items_.size()) compact();
  }
  void clear() {
    items_.clear();
    head_ = 0;
  }

  iterator begin() { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  iterator end() { return items_.end(); }
  const_iterator begin() const { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  const_iterator end() const { return items_.end(); }

  iterator insert(iterator at, T value) { return items_.insert(at, std::move(value)); }
  iterator erase(iterator at) { return items_.erase(at); }

 private:
  void compact() {
    items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }

  std::vector<T> items_;
  std::size_t head_ = 0;  // items_[0, head_) are consumed
};

}  // namespace reprise::capture
