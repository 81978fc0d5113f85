#pragma once
// ReadinessPoller: the readiness of many sockets through one epoll instance of its own, watched
// by the io_context as a single descriptor.
//
// Why: Asio's epoll reactor (Boost 1.74, which Debian 12 ships) either tries every read at once
// or, for a wait, re-arms the descriptor with epoll_ctl. A client sends a request and reads its
// answer, which is never there yet: the read tried at once fails with EAGAIN, one wasted system
// call per request. Here each socket is registered once, edge-triggered, and a wake-up of the
// io_context reports every socket that became ready since the last one (a dozen on a busy run),
// for one re-arm of the one descriptor. Sockets are read only when they have something.
//
// Contract: add() gives a socket (non-blocking, owned by the caller) a watcher, called with the
// epoll events on this io_context's thread. remove(), before the socket is closed, ends that:
// no call reaches the watcher after it, even from a batch being delivered. Edge-triggered: a
// watcher learns of new bytes (or room) by the next edge only, so it reads until it has what
// it wants or the socket has no more. At most 128 events are taken per epoll_wait; a full
// batch is followed by another at once. One thread; not thread-safe.
//
// Shared by the replay client (replay/src/client_connection.cpp) and the recording proxy's
// plain-TCP streams (capture/src/proxy_stream.cpp).

#include <cstdint>
#include <memory>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "reprise/result.hpp"

namespace reprise::net {

// Sends `data` from `written` on (advancing it) until all is sent or the socket's buffer is full.
// Returns 0 when all is sent, EAGAIN when the buffer is full (ask for output, go on at the
// report), else send()'s error (MSG_NOSIGNAL: a peer that closed is EPIPE, no signal).
int send_until_full(int fd, const char* data, std::size_t size, std::size_t& written);

class ReadinessPoller {
 public:
  class Watcher {
   public:
    virtual void on_ready(std::uint32_t epoll_events) = 0;

   protected:
    ~Watcher() = default;
  };

  // Errors are the system's (std::system_category(), `where` naming the call): the caller
  // reports them in its own library's terms.
  static Result<std::unique_ptr<ReadinessPoller>> create(boost::asio::io_context& io);
  ~ReadinessPoller();
  ReadinessPoller(const ReadinessPoller&) = delete;
  ReadinessPoller& operator=(const ReadinessPoller&) = delete;

  // Watches `fd` for input (and for output while want_output says so). Returns a handle for the
  // calls below; an error when epoll refuses the descriptor.
  Result<std::uint32_t> add(int fd, Watcher& watcher);
  // A connected socket leaves Asio for this poller: made non-blocking, watched, and released by
  // `socket`. The descriptor is then the caller's, to remove() and close. On an error `socket`
  // keeps it, open.
  struct Adopted {
    int fd;
    std::uint32_t handle;
  };
  Result<Adopted> adopt(boost::asio::ip::tcp::socket& socket, Watcher& watcher);
  // Output interest on or off: a partial send waits for room, and only then.
  Status want_output(std::uint32_t handle, bool on);
  // Stops watching; call it before closing the descriptor.
  void remove(std::uint32_t handle);

  // Empty once the poller is gone: for the owner of a watched socket that may outlive it, to
  // know whether remove() is still to be called (epoll forgets a closed descriptor itself).
  std::weak_ptr<ReadinessPoller*> lifetime() const { return alive_; }

  std::uint64_t wakeups() const { return wakeups_; }
  std::uint64_t events() const { return events_; }

 private:
  explicit ReadinessPoller(boost::asio::io_context& io, int epoll_fd);
  void arm();
  void on_readable();

  int epoll_fd_;
  boost::asio::posix::stream_descriptor descriptor_;  // owns epoll_fd_
  // Watchers by slot; epoll data carries slot and generation, so an event queued for a socket
  // removed meanwhile (earlier in the same batch) finds a different generation and is dropped.
  struct Slot {
    Watcher* watcher = nullptr;
    int fd = -1;
    std::uint32_t generation = 0;
  };
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_slots_;
  std::uint64_t wakeups_ = 0;
  std::uint64_t events_ = 0;
  std::shared_ptr<ReadinessPoller*> alive_ = std::make_shared<ReadinessPoller*>(this);
};

}  // namespace reprise::net
