#include "reprise/capture/pcap_source.hpp"

#include <pcap/pcap.h>
#include <poll.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <optional>
#include <utility>

#include "pcap_file_reader.hpp"
#include "reprise/capture/error.hpp"

namespace reprise::capture {
namespace {

struct Input {
  pcap_t* handle = nullptr;
  std::string name;
  std::uint32_t link_type = 0;
  // Set for a classic pcap file: its records are read by PcapFileReader, not by libpcap, which
  // only opened it; `filter` is then applied here (pcap_offline_filter).
  std::unique_ptr<PcapFileReader> reader;
  std::optional<bpf_program> filter;
  // Packets libpcap reads: the unit of their timestamps, and for a file that can tell a position
  // (not a pipe) its stream and the offset of the record or pcapng block being read, which an
  // error names.
  TimestampUnit unit = TimestampUnit::Nanosecond;
  std::FILE* file = nullptr;
  std::uint64_t read_at = Error::kNoOffset;
  // The packet read ahead (files are merged by its timestamp); data == nullptr: none.
  const std::uint8_t* data = nullptr;
  std::uint32_t caplen = 0;
  std::uint32_t wire_length = 0;
  std::int64_t ts_ns = 0;
  bool done = false;

  void hold(const std::uint8_t* d, std::uint32_t cap, std::uint32_t wire, std::int64_t ts) {
    data = d;
    caplen = cap;
    wire_length = wire;
    ts_ns = ts;
  }
  Packet packet() const { return {link_type, {data, caplen}, wire_length, ts_ns}; }
};

// What tv_usec holds in `h`'s packet headers. Handles ask for nanoseconds, which libpcap always
// gives for a file (it scales microsecond files) but a live device may refuse.
TimestampUnit unit_of(pcap_t* h) {
  return pcap_get_tstamp_precision(h) == PCAP_TSTAMP_PRECISION_NANO ? TimestampUnit::Nanosecond
                                                                     : TimestampUnit::Microsecond;
}

// The stream libpcap reads file `h` from, when a position in it is a byte offset of the input (a
// regular file, or standard input redirected from one); nullptr for a pipe, where ftell() fails.
std::FILE* positioned_file(pcap_t* h) {
  std::FILE* f = pcap_file(h);
  struct stat st {};
  if (f == nullptr || ::fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) return nullptr;
  // A seek to where the stream already is changes nothing it reads, but glibc then keeps the
  // offset, so the ftell() before each packet is arithmetic instead of an lseek() system call.
  if (std::fseek(f, 0, SEEK_CUR) != 0) return nullptr;
  return f;
}

// Compiles `filter` ("" for none) for `in`: set on the handle when libpcap reads the packets,
// kept in `in.filter` when PcapFileReader reads them.
Status apply_filter(Input& in, const std::string& filter) {
  if (filter.empty()) return {};
  bpf_program program{};
  if (pcap_compile(in.handle, &program, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0)
    return fail(errc::bad_option, "--filter", "'" + filter + "': " + pcap_geterr(in.handle));
  if (in.reader) {
    in.filter = program;
    return {};
  }
  const int rc = pcap_setfilter(in.handle, &program);
  pcap_freecode(&program);
  if (rc != 0) return fail(errc::source_error, in.name, pcap_geterr(in.handle));
  return {};
}

}  // namespace

struct PcapSource::Impl {
  std::vector<Input> inputs;
  bool live = false;
  std::atomic<bool> stopped{false};
  SourceStats stats;
  Input* handed_out = nullptr;  // files: the input whose packet next() returned last
  // Live: the handle is non-blocking and next() waits on its descriptor for at most poll_ms.
  // In immediate mode libpcap's own read timeout never fires (pcap_next_ex would block until a
  // packet comes), and a quiet link must still see --duration, idle expiry and the flushes.
  int poll_fd = -1;
  int poll_ms = 100;

  ~Impl() {
    for (auto& in : inputs) {
      if (in.filter) pcap_freecode(&*in.filter);
      if (in.handle != nullptr) pcap_close(in.handle);
    }
  }

  // Reads the next packet of one input into its look-ahead slot (data == nullptr: none, which
  // for a live source is a timeout). pcap_next_ex returns 1 for a packet, 0 for a live timeout,
  // PCAP_ERROR_BREAK at the end of a file or after pcap_breakloop, PCAP_ERROR on failure.
  Status advance(Input& in) {
    in.data = nullptr;
    if (in.reader) return advance_own(in);
    if (in.file != nullptr) {
      // libpcap's errors ("truncated pcapng dump file; tried to read …") name no position.
      const long at = std::ftell(in.file);
      in.read_at = at < 0 ? Error::kNoOffset : static_cast<std::uint64_t>(at);
    }
    pcap_pkthdr* header = nullptr;
    const std::uint8_t* data = nullptr;
    const int rc = pcap_next_ex(in.handle, &header, &data);
    if (rc == 1) {
      in.hold(data, header->caplen, header->len, unix_ns(header->ts.tv_sec, header->ts.tv_usec, in.unit));
      return {};
    }
    if (rc == 0) return {};
    in.done = true;
    if (rc == PCAP_ERROR_BREAK || stopped) return {};
    Error e = fail(errc::source_error, in.name, std::string("reading packets: ") + pcap_geterr(in.handle));
    e.offset = in.read_at;
    return e;
  }

  Status advance_own(Input& in) {
    PcapFileReader::Record r;
    for (;;) {
      auto next = in.reader->next(r);
      if (!next) {
        in.done = true;
        return next.take_error();
      }
      if (*next == PcapFileReader::Next::End) {
        in.done = true;
        return {};
      }
      if (in.filter) {
        pcap_pkthdr h{};
        h.caplen = r.caplen;
        h.len = r.wire_length;
        if (pcap_offline_filter(&*in.filter, &h, r.data) == 0) continue;
      }
      in.hold(r.data, r.caplen, r.wire_length, r.ts_ns);
      return {};
    }
  }
};

PcapSource::PcapSource(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PcapSource::~PcapSource() = default;

Result<std::unique_ptr<PcapSource>> PcapSource::open_files(const std::vector<std::string>& paths,
                                                           const std::string& filter) {
  // Refused before anything is opened: two handles would share one stream's bytes.
  if (std::count(paths.begin(), paths.end(), "-") > 1)
    return fail(errc::bad_option, "--pcap", "'-' (standard input) can be given only once");
  auto impl = std::make_unique<Impl>();
  impl->inputs.reserve(paths.size());  // handed_out points into it
  for (const auto& path : paths) {
    const bool is_stdin = path == "-";  // libpcap opens "-" as standard input
    const std::string name = is_stdin ? "standard input" : path;
    char err[PCAP_ERRBUF_SIZE] = "";
    pcap_t* h = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
    if (h == nullptr)
      return fail(errc::source_error, name, std::string(err) + " (is it a pcap or pcapng file?)");
    Input& in = impl->inputs.emplace_back();
    in.handle = h;
    in.name = name;
    in.link_type = static_cast<std::uint32_t>(pcap_datalink(h));
    in.unit = unit_of(h);
    const auto snap = static_cast<std::uint32_t>(pcap_snapshot(h));
    impl->stats.min_snaplen =
        impl->stats.min_snaplen == 0 ? snap : std::min(impl->stats.min_snaplen, snap);
    // Standard input stays with libpcap: its stdio buffer already holds the bytes after the file
    // header, which a reader of fd 0 would never see.
    if (!is_stdin) {
      auto reader = PcapFileReader::open(path);
      if (!reader) return reader.take_error();
      in.reader = std::move(*reader);
    }
    if (!in.reader) in.file = positioned_file(h);
    if (Status st = apply_filter(in, filter); !st) return st.take_error();
  }
  for (auto& in : impl->inputs)
    if (Status st = impl->advance(in); !st) return st.take_error();
  return std::unique_ptr<PcapSource>(new PcapSource(std::move(impl)));
}

Result<std::unique_ptr<PcapSource>> PcapSource::open_live(const std::string& interface,
                                                          const std::string& filter,
                                                          const LiveOptions& o) {
  char err[PCAP_ERRBUF_SIZE] = "";
  pcap_t* h = pcap_create(interface.c_str(), err);
  if (h == nullptr) return fail(errc::interface_failed, interface, err);
  auto impl = std::make_unique<Impl>();
  impl->live = true;
  Input& in = impl->inputs.emplace_back();
  in.handle = h;
  in.name = interface;
  pcap_set_snaplen(h, o.snaplen);
  pcap_set_buffer_size(h, o.buffer_bytes);
  pcap_set_immediate_mode(h, o.immediate ? 1 : 0);
  pcap_set_timeout(h, o.timeout_ms);
  // Refused (PCAP_ERROR_TSTAMP_PRECISION_NOTSUP) by a device without nanosecond timestamps: the
  // handle then gives microseconds, as unit_of() reads after activation.
  (void)pcap_set_tstamp_precision(h, PCAP_TSTAMP_PRECISION_NANO);
  const int rc = pcap_activate(h);
  if (rc < 0) {
    std::string why = pcap_geterr(h);
    if (rc == PCAP_ERROR_PERM_DENIED) why += " (capturing needs root or CAP_NET_RAW)";
    if (rc == PCAP_ERROR_NO_SUCH_DEVICE) why += " (see `ip link` for interface names)";
    return fail(errc::interface_failed, interface, why);
  }
  impl->inputs[0].link_type = static_cast<std::uint32_t>(pcap_datalink(h));
  impl->inputs[0].unit = unit_of(h);
  if (Status st = apply_filter(impl->inputs[0], filter); !st) return st.take_error();
  impl->poll_fd = pcap_get_selectable_fd(h);
  impl->poll_ms = std::max(1, o.timeout_ms);
  if (impl->poll_fd >= 0 && pcap_setnonblock(h, 1, err) != 0)
    return fail(errc::interface_failed, interface, std::string("cannot make the capture non-blocking: ") + err);
  return std::unique_ptr<PcapSource>(new PcapSource(std::move(impl)));
}

Result<PcapSource::Next> PcapSource::next(Packet& out) {
  Impl& s = *impl_;
  if (s.stopped) return Next::End;
  if (s.live) {
    Input& in = s.inputs[0];
    if (in.done) return Next::End;
    if (Status st = s.advance(in); !st) return st.take_error();
    if (in.data == nullptr && !in.done && s.poll_fd >= 0) {
      pollfd p{s.poll_fd, POLLIN, 0};
      if (::poll(&p, 1, s.poll_ms) > 0 && !s.stopped)  // EINTR (a signal): Idle, the caller looks
        if (Status st = s.advance(in); !st) return st.take_error();
    }
    if (in.done) return Next::End;
    if (in.data == nullptr) return Next::Idle;
    out = in.packet();
    ++s.stats.packets;
    return Next::Packet;
  }
  // Files: hand out the earliest look-ahead packet. Its input is refilled on the next call, so
  // the packet's bytes (libpcap's buffer, or the reader's) stay valid until then without a copy.
  if (s.handed_out != nullptr) {
    Input& in = *std::exchange(s.handed_out, nullptr);
    if (Status st = s.advance(in); !st) return st.take_error();
  }
  Input* best = nullptr;
  for (auto& in : s.inputs)
    if (!in.done && in.data != nullptr && (best == nullptr || in.ts_ns < best->ts_ns)) best = &in;
  if (best == nullptr) return Next::End;
  ++s.stats.packets;
  out = best->packet();
  s.handed_out = best;
  return Next::Packet;
}

void PcapSource::stop() {
  impl_->stopped = true;
  for (auto& in : impl_->inputs) pcap_breakloop(in.handle);
}

bool PcapSource::live() const { return impl_->live; }

SourceStats PcapSource::stats() {
  if (impl_->live && !impl_->inputs.empty()) {
    pcap_stat ps{};
    if (pcap_stats(impl_->inputs[0].handle, &ps) == 0) {
      impl_->stats.kernel_received = ps.ps_recv;
      impl_->stats.kernel_dropped = ps.ps_drop;
      impl_->stats.interface_dropped = ps.ps_ifdrop;
    }
  }
  return impl_->stats;
}

}  // namespace reprise::capture
