#include "reprise/format/byte_io.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "reprise/format/error.hpp"

namespace reprise::format {
namespace {

constexpr std::size_t kReadChunk = 1 << 20;

std::string errno_text(int e) { return std::strerror(e); }

class FdSink final : public ByteSink {
 public:
  FdSink(int fd, std::string name, bool owned) : fd_(fd), name_(std::move(name)), owned_(owned) {}
  ~FdSink() override {
    if (owned_ && fd_ >= 0) ::close(fd_);
  }
  Status write(std::span<const std::uint8_t> bytes) override {
    while (!bytes.empty()) {
      const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        return fail(errc::output_error, name_, position_,
                    errno_text(errno) + " (is the disk full, or the reading end closed?)");
      bytes = bytes.subspan(static_cast<std::size_t>(n));
      position_ += static_cast<std::uint64_t>(n);
    }
    return {};
  }
  Status close() override {
    if (owned_ && fd_ >= 0) {
      const int rc = ::close(fd_);
      fd_ = -1;
      if (rc != 0) return fail(errc::output_error, name_, errno_text(errno));
    }
    return {};
  }
  std::uint64_t position() const override { return position_; }
  const std::string& name() const override { return name_; }

 private:
  int fd_;
  std::string name_;
  bool owned_;
  std::uint64_t position_ = 0;
};

}  // namespace

Result<std::unique_ptr<ByteSink>> open_sink(const std::string& path) {
  if (path == "-") return std::unique_ptr<ByteSink>(new FdSink(1, "<stdout>", false));
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return fail(errc::output_error, path, "cannot create: " + errno_text(errno));
  ::fchmod(fd, 0600);
  return std::unique_ptr<ByteSink>(new FdSink(fd, path, true));
}

Status MemorySink::write(std::span<const std::uint8_t> bytes) {
  out_->insert(out_->end(), bytes.begin(), bytes.end());
  return {};
}

Result<std::unique_ptr<ByteSource>> ByteSource::open(const std::string& path,
                                                     const std::atomic<bool>* cancel) {
  std::unique_ptr<ByteSource> s(new ByteSource());
  s->cancel_ = cancel;
  if (path == "-") {
    s->name_ = "<stdin>";
    s->fd_ = 0;
  } else {
    s->name_ = path;
    s->fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (s->fd_ < 0) return fail(errc::not_found, path, errno_text(errno));
  }
  struct stat st {};
  if (::fstat(s->fd_, &st) != 0) return fail(errc::io_error, s->name_, errno_text(errno));
  if (S_ISDIR(st.st_mode))
    return fail(errc::io_error, s->name_, "is a directory; give a trace or run file");
  if (S_ISREG(st.st_mode)) {
    s->seekable_ = true;
    s->size_ = static_cast<std::uint64_t>(st.st_size);
  }
  return s;
}

std::unique_ptr<ByteSource> ByteSource::from_memory(std::vector<std::uint8_t> bytes,
                                                    std::string name) {
  std::unique_ptr<ByteSource> s(new ByteSource());
  s->name_ = std::move(name);
  s->seekable_ = true;
  s->size_ = bytes.size();
  s->memory_ = std::move(bytes);
  return s;
}

ByteSource::~ByteSource() {
  if (fd_ > 0) ::close(fd_);  // never close stdin (fd 0)
}

Result<std::size_t> ByteSource::fill(std::size_t want) {
  // Make room for `want` bytes plus a read chunk, moving the buffered bytes to the front only
  // when the tail is too short, so a large frame is not copied again for each peek.
  if (buf_.size() - begin_ < want + kReadChunk) {
    if (begin_ > 0) std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
    if (buf_.size() < want + kReadChunk) buf_.resize(want + kReadChunk);
  }
  while (end_ - begin_ < want && !eof_) {
    if (Status st = wait_readable(); !st) return st.take_error();
    const ssize_t n = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return fail(errc::io_error, name_, position_ + (end_ - begin_), errno_text(errno));
    if (n == 0) eof_ = true;
    end_ += static_cast<std::size_t>(n);
  }
  return end_ - begin_;
}

Status ByteSource::wait_readable() {
  if (cancel_ == nullptr || seekable_) return {};
  pollfd p{fd_, POLLIN, 0};
  while (!cancel_->load()) {
    const int ready = ::poll(&p, 1, 50);
    if (ready > 0 || (ready < 0 && errno != EINTR)) return {};  // read() reports the error
  }
  return fail(errc::cancelled, name_, position_ + (end_ - begin_), "stopped while waiting for input");
}

Result<std::span<const std::uint8_t>> ByteSource::peek(std::size_t n) {
  if (fd_ < 0) {
    const std::size_t at = static_cast<std::size_t>(std::min<std::uint64_t>(position_, size_));
    return std::span<const std::uint8_t>(memory_).subspan(at, std::min(n, memory_.size() - at));
  }
  if (end_ - begin_ < n && !eof_) {
    auto filled = fill(n);
    if (!filled) return filled.take_error();
  }
  return std::span<const std::uint8_t>(buf_.data() + begin_, std::min(n, end_ - begin_));
}

Status ByteSource::consume(std::uint64_t n) {
  const std::uint64_t buffered = end_ - begin_;
  if (fd_ < 0 || n <= buffered) {
    if (fd_ >= 0) begin_ += static_cast<std::size_t>(n);
    position_ += n;
    return {};
  }
  if (seekable_) return seek(position_ + n);
  // A pipe: read and drop what was not buffered.
  begin_ = end_ = 0;
  position_ += buffered;
  std::uint64_t left = n - buffered;
  while (left > 0) {
    auto filled = fill(static_cast<std::size_t>(std::min<std::uint64_t>(left, kReadChunk)));
    if (!filled) return filled.take_error();
    if (*filled == 0) break;
    const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(left, *filled));
    begin_ += take;
    position_ += take;
    left -= take;
  }
  return {};
}

Status ByteSource::seek(std::uint64_t offset) {
  if (!seekable_) return fail(errc::io_error, name_, "cannot seek in a pipe");
  position_ = offset;
  if (fd_ < 0) return {};
  begin_ = end_ = 0;
  eof_ = false;
  if (::lseek(fd_, static_cast<off_t>(offset), SEEK_SET) < 0)
    return fail(errc::io_error, name_, offset, errno_text(errno));
  return {};
}

Result<std::vector<std::uint8_t>> ByteSource::read_at(std::uint64_t offset, std::size_t n) {
  if (!seekable_) return fail(errc::io_error, name_, "cannot seek in a pipe");
  if (offset > size_ || n > size_ - offset)
    return fail(errc::truncated, name_, offset, "wanted " + std::to_string(n) + " bytes");
  std::vector<std::uint8_t> out(n);
  if (fd_ < 0) {
    std::memcpy(out.data(), memory_.data() + offset, n);
    return out;
  }
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r =
        ::pread(fd_, out.data() + got, n - got, static_cast<off_t>(offset + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return fail(errc::io_error, name_, offset + got, errno_text(errno));
    if (r == 0) return fail(errc::truncated, name_, offset + got, "file shrank while reading");
    got += static_cast<std::size_t>(r);
  }
  return out;
}

}  // namespace reprise::format
