#include "pcap_file_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "reprise/capture/error.hpp"

namespace reprise::capture {
namespace {

constexpr std::uint32_t kMagicMicro = 0xa1b2c3d4;
constexpr std::uint32_t kMagicNano = 0xa1b23c4d;
constexpr std::size_t kFileHeaderBytes = 24;
constexpr std::size_t kRecordHeaderBytes = 16;

std::string at_byte(std::uint64_t offset) { return " at byte " + std::to_string(offset); }

}  // namespace

PcapFileReader::PcapFileReader(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}

PcapFileReader::~PcapFileReader() { ::close(fd_); }

Result<std::unique_ptr<PcapFileReader>> PcapFileReader::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(errc::source_error, path, std::strerror(errno));
  std::unique_ptr<PcapFileReader> f(new PcapFileReader(path, fd));  // closes fd from here on
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail(errc::source_error, path, std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return std::unique_ptr<PcapFileReader>();  // a pipe: libpcap reads it
  f->buf_.resize(kBufferBytes);
  auto whole = f->fill(kFileHeaderBytes);
  if (!whole) return whole.take_error();
  if (!*whole) return std::unique_ptr<PcapFileReader>();  // too short: libpcap decides
  const std::uint8_t* h = f->buf_.data();
  std::uint32_t magic;
  std::memcpy(&magic, h, sizeof magic);
  if (magic == __builtin_bswap32(kMagicMicro) || magic == __builtin_bswap32(kMagicNano)) {
    f->swapped_ = true;
    magic = __builtin_bswap32(magic);
  }
  if (magic != kMagicMicro && magic != kMagicNano) return std::unique_ptr<PcapFileReader>();
  f->unit_ = magic == kMagicNano ? TimestampUnit::Nanosecond : TimestampUnit::Microsecond;
  std::uint16_t major;  // the version's first half, in file order
  std::memcpy(&major, h + 4, sizeof major);
  if (f->swapped_) major = __builtin_bswap16(major);
  if (major != 2) return std::unique_ptr<PcapFileReader>();
  f->snaplen_ = f->u32(h + 16);
  f->rd_ = kFileHeaderBytes;
  return f;
}

std::uint32_t PcapFileReader::u32(const std::uint8_t* p) const {
  std::uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return swapped_ ? __builtin_bswap32(v) : v;
}

void PcapFileReader::compact() {
  std::memmove(buf_.data(), buf_.data() + rd_, end_ - rd_);
  buf_offset_ += rd_;
  end_ -= rd_;
  rd_ = 0;
}

Result<bool> PcapFileReader::fill(std::size_t n) {
  if (end_ - rd_ >= n) return true;
  compact();
  if (buf_.size() < n) buf_.resize(n);  // a record larger than the buffer
  while (end_ < n) {
    const ssize_t got = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
    if (got == 0) return false;
    if (got < 0) {
      if (errno == EINTR) continue;
      return fail(errc::source_error, path_,
                  std::string("reading") + at_byte(buf_offset_ + end_) + ": " + std::strerror(errno));
    }
    end_ += static_cast<std::size_t>(got);
  }
  return true;
}

Result<PcapFileReader::Next> PcapFileReader::next(Record& out) {
  if (buf_.size() > kBufferBytes && end_ - rd_ < kBufferBytes) {
    // The buffer grew for a large record, now read past: give the memory back.
    compact();
    buf_.resize(kBufferBytes);
    buf_.shrink_to_fit();
  }
  const std::uint64_t at = buf_offset_ + rd_;
  auto header = fill(kRecordHeaderBytes);
  if (!header) return header.take_error();
  if (!*header) {
    if (end_ == rd_) return Next::End;
    return fail(errc::source_error, path_,
                "truncated" + at_byte(at) + ": a packet header needs 16 bytes, the file has " +
                    std::to_string(end_ - rd_) + " (the capture was cut off)");
  }
  const std::uint8_t* h = buf_.data() + rd_;
  const std::uint32_t seconds = u32(h), fraction = u32(h + 4);
  const std::uint32_t caplen = u32(h + 8), wire = u32(h + 12);
  if (caplen > kMaxCaplen)
    return fail(errc::source_error, path_,
                "invalid packet header" + at_byte(at) + ": captured length " +
                    std::to_string(caplen) + " (the file is corrupt)");
  auto whole = fill(kRecordHeaderBytes + caplen);
  if (!whole) return whole.take_error();
  if (!*whole)
    return fail(errc::source_error, path_,
                "truncated" + at_byte(at) + ": a packet of " + std::to_string(caplen) +
                    " captured bytes, the file has " +
                    std::to_string(end_ - rd_ - kRecordHeaderBytes) + " (the capture was cut off)");
  out.ts_ns = unix_ns(seconds, fraction, unit_);
  out.caplen = snaplen_ != 0 ? std::min(caplen, snaplen_) : caplen;
  out.wire_length = wire;
  out.data = buf_.data() + rd_ + kRecordHeaderBytes;
  rd_ += kRecordHeaderBytes + caplen;
  return Next::Record;
}

}  // namespace reprise::capture
