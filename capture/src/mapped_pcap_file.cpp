#include "mapped_pcap_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
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
// Larger captured lengths are corrupt headers, not packets (libpcap's largest per-link-type
// snaplen is 128 MiB for D-Bus; everything else is at most 8 MiB).
constexpr std::uint64_t kPrefetchBytes = 2048;
constexpr std::uint32_t kMaxCaplen = std::uint32_t{128} << 20;

std::string at_byte(std::uint64_t offset) { return " at byte " + std::to_string(offset); }

}  // namespace

MappedPcapFile::MappedPcapFile(std::string path, int fd, std::uint64_t size)
    : path_(std::move(path)), fd_(fd), size_(size) {}

MappedPcapFile::~MappedPcapFile() {
  if (window_ != nullptr) ::munmap(window_, window_size_);
  ::close(fd_);
}

Result<std::unique_ptr<MappedPcapFile>> MappedPcapFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(errc::source_error, path, std::strerror(errno));
  std::unique_ptr<MappedPcapFile> f;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    return fail(errc::source_error, path, std::strerror(e));
  }
  f.reset(new MappedPcapFile(path, fd, static_cast<std::uint64_t>(st.st_size)));
  std::uint8_t h[kFileHeaderBytes];
  if (!S_ISREG(st.st_mode) || f->size_ < kFileHeaderBytes ||
      ::pread(fd, h, sizeof h, 0) != static_cast<ssize_t>(sizeof h))
    return std::unique_ptr<MappedPcapFile>();  // a pipe, or too short: libpcap decides
  std::uint32_t magic;
  std::memcpy(&magic, h, sizeof magic);
  if (magic == __builtin_bswap32(kMagicMicro) || magic == __builtin_bswap32(kMagicNano)) {
    f->swapped_ = true;
    magic = __builtin_bswap32(magic);
  }
  if (magic != kMagicMicro && magic != kMagicNano) return std::unique_ptr<MappedPcapFile>();
  f->nanosecond_ = magic == kMagicNano;
  std::uint16_t major;  // the version's first half, in file order
  std::memcpy(&major, h + 4, sizeof major);
  if (f->swapped_) major = __builtin_bswap16(major);
  if (major != 2) return std::unique_ptr<MappedPcapFile>();
  f->snaplen_ = f->u32(h + 16);
  f->offset_ = kFileHeaderBytes;
  return f;
}

std::uint32_t MappedPcapFile::u32(const std::uint8_t* p) const {
  std::uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return swapped_ ? __builtin_bswap32(v) : v;
}

Status MappedPcapFile::map(std::uint64_t offset, std::size_t n) {
  if (offset >= window_offset_ && offset + n <= window_offset_ + window_size_) return {};
  if (window_ != nullptr) ::munmap(window_, window_size_);
  window_ = nullptr;
  static const std::uint64_t page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  window_offset_ = offset & ~(page - 1);
  const std::uint64_t want = std::max<std::uint64_t>(kWindowBytes, offset - window_offset_ + n);
  window_size_ = static_cast<std::size_t>(std::min(want, size_ - window_offset_));
  void* p = ::mmap(nullptr, window_size_, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd_,
                   static_cast<off_t>(window_offset_));
  if (p == MAP_FAILED) {
    window_size_ = 0;
    return fail(errc::source_error, path_, std::string("mapping the file: ") + std::strerror(errno));
  }
  window_ = static_cast<std::uint8_t*>(p);
  // Read ahead generously and drop pages behind: the file is read once, front to back.
  ::madvise(window_, window_size_, MADV_SEQUENTIAL);
  return {};
}

Result<MappedPcapFile::Next> MappedPcapFile::next(Record& out) {
  if (offset_ == size_) return Next::End;
  if (size_ - offset_ < kRecordHeaderBytes)
    return fail(errc::source_error, path_,
                "truncated" + at_byte(offset_) + ": a packet header needs 16 bytes, the file has " +
                    std::to_string(size_ - offset_) + " (the capture was cut off)");
  if (Status st = map(offset_, kRecordHeaderBytes); !st) return st.take_error();
  const std::uint8_t* h = window_ + (offset_ - window_offset_);
  const std::uint32_t seconds = u32(h), fraction = u32(h + 4);
  const std::uint32_t caplen = u32(h + 8), wire = u32(h + 12);
  if (caplen > kMaxCaplen)
    return fail(errc::source_error, path_,
                "invalid packet header" + at_byte(offset_) + ": captured length " +
                    std::to_string(caplen) + " (the file is corrupt)");
  const std::uint64_t data_at = offset_ + kRecordHeaderBytes;
  if (size_ - data_at < caplen)
    return fail(errc::source_error, path_,
                "truncated" + at_byte(offset_) + ": a packet of " + std::to_string(caplen) +
                    " captured bytes, the file has " + std::to_string(size_ - data_at) +
                    " (the capture was cut off)");
  if (Status st = map(data_at, caplen); !st) return st.take_error();
  out.ts_ns = static_cast<std::int64_t>(seconds) * 1'000'000'000 +
              static_cast<std::int64_t>(fraction) * (nanosecond_ ? 1 : 1000);
  out.caplen = snaplen_ != 0 ? std::min(caplen, snaplen_) : caplen;
  out.wire_length = wire;
  out.data = window_ + (data_at - window_offset_);
  offset_ = data_at + caplen;
  // The hardware prefetcher stops at every 4 KiB page of the map; asking for the bytes a little
  // ahead keeps the parser from waiting on memory at each new page.
  const std::uint64_t ahead = std::min<std::uint64_t>(offset_ + kPrefetchBytes, window_offset_ + window_size_);
  for (prefetched_ = std::max(prefetched_, offset_); prefetched_ < ahead; prefetched_ += 64)
    __builtin_prefetch(window_ + (prefetched_ - window_offset_));
  return Next::Record;
}

}  // namespace reprise::capture
