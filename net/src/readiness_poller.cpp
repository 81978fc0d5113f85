#include "reprise/net/readiness_poller.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>

namespace reprise::net {

namespace asio = boost::asio;

namespace {

std::uint64_t tag(std::uint32_t slot, std::uint32_t generation) {
  return (static_cast<std::uint64_t>(slot) << 32) | generation;
}

constexpr std::uint32_t kInput = EPOLLIN | EPOLLRDHUP | EPOLLET;

// The system's error `code` (errno by default, as it is now) of the call `what`.
Error system_error(const char* what, int code = errno) {
  return Error{std::error_code(code, std::system_category()), {}, what};
}

}  // namespace

int send_until_full(int fd, const char* data, std::size_t size, std::size_t& written) {
  while (written < size) {
    const ssize_t n = ::send(fd, data + written, size - written, MSG_NOSIGNAL);
    if (n > 0) {
      written += static_cast<std::size_t>(n);
      continue;
    }
    if (n == 0) return EPIPE;  // not for a stream socket with bytes to send; never loop on it
    if (errno == EINTR) continue;
    return errno == EWOULDBLOCK ? EAGAIN : errno;
  }
  return 0;
}

Result<std::unique_ptr<ReadinessPoller>> ReadinessPoller::create(asio::io_context& io) {
  const int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) return system_error("epoll_create1");
  std::unique_ptr<ReadinessPoller> p(new ReadinessPoller(io, fd));
  p->arm();
  return p;
}

ReadinessPoller::ReadinessPoller(asio::io_context& io, int epoll_fd)
    : epoll_fd_(epoll_fd), descriptor_(io, epoll_fd) {}

ReadinessPoller::~ReadinessPoller() {
  boost::system::error_code ignored;
  descriptor_.close(ignored);  // closes epoll_fd_; the pending wait ends as operation_aborted
}

Result<std::uint32_t> ReadinessPoller::add(int fd, Watcher& watcher) {
  std::uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& s = slots_[slot];
  s.watcher = &watcher;
  s.fd = fd;
  epoll_event ev{};
  ev.events = kInput;
  ev.data.u64 = tag(slot, s.generation);
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    Error e = system_error("epoll_ctl");
    s = Slot{nullptr, -1, s.generation + 1};
    free_slots_.push_back(slot);
    return e;
  }
  return slot;
}

Result<ReadinessPoller::Adopted> ReadinessPoller::adopt(asio::ip::tcp::socket& socket, Watcher& watcher) {
  boost::system::error_code ec;
  socket.non_blocking(true, ec);
  if (ec) return system_error("fcntl", ec.value());
  auto handle = add(socket.native_handle(), watcher);
  if (!handle) return handle.take_error();
  const int fd = socket.release(ec);
  if (ec) {
    remove(*handle);
    return system_error("release", ec.value());
  }
  return Adopted{fd, *handle};
}

Status ReadinessPoller::want_output(std::uint32_t handle, bool on) {
  const Slot& s = slots_[handle];
  epoll_event ev{};
  ev.events = kInput | (on ? EPOLLOUT : 0u);
  ev.data.u64 = tag(handle, s.generation);
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, s.fd, &ev) != 0)
    return system_error("epoll_ctl");
  return {};
}

void ReadinessPoller::remove(std::uint32_t handle) {
  Slot& s = slots_[handle];
  epoll_event ev{};
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, s.fd, &ev);  // cannot fail for a descriptor added
  s = Slot{nullptr, -1, s.generation + 1};
  free_slots_.push_back(handle);
}

void ReadinessPoller::arm() {
  // The token tells a wait that completed before the poller went (and runs after) not to
  // touch it.
  descriptor_.async_wait(asio::posix::stream_descriptor::wait_read,
                         [alive = std::weak_ptr<ReadinessPoller*>(alive_)](const boost::system::error_code& ec) {
                           const auto self = alive.lock();
                           if (ec || !self) return;
                           (*self)->on_readable();
                         });
}

void ReadinessPoller::on_readable() {
  ++wakeups_;
  std::array<epoll_event, 128> ready;
  for (;;) {
    const int n = ::epoll_wait(epoll_fd_, ready.data(), static_cast<int>(ready.size()), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    events_ += static_cast<std::uint64_t>(n);
    for (int i = 0; i < n; ++i) {
      const std::uint32_t slot = static_cast<std::uint32_t>(ready[i].data.u64 >> 32);
      const std::uint32_t generation = static_cast<std::uint32_t>(ready[i].data.u64);
      if (slot >= slots_.size()) continue;
      const Slot& s = slots_[slot];
      if (s.watcher == nullptr || s.generation != generation) continue;  // removed meanwhile
      s.watcher->on_ready(ready[i].events);
    }
    if (n < static_cast<int>(ready.size())) break;  // else more may be waiting
  }
  arm();
}

}  // namespace reprise::net
