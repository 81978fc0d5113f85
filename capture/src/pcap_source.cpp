#include "reprise/capture/pcap_source.hpp"

#include <pcap/pcap.h>

#include <atomic>

#include "reprise/capture/error.hpp"

namespace reprise::capture {
namespace {

struct Input {
  pcap_t* handle = nullptr;
  std::string name;
  std::uint32_t link_type = 0;
  // The packet read ahead (files are merged by its timestamp).
  const std::uint8_t* data = nullptr;
  pcap_pkthdr* header = nullptr;
  bool done = false;
};

std::int64_t ts_ns(const pcap_pkthdr& h) {
  // Handles are opened with nanosecond precision: tv_usec holds nanoseconds.
  return static_cast<std::int64_t>(h.ts.tv_sec) * 1'000'000'000 + h.ts.tv_usec;
}

Status apply_filter(pcap_t* handle, const std::string& name, const std::string& filter) {
  if (filter.empty()) return {};
  bpf_program program{};
  if (pcap_compile(handle, &program, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0)
    return fail(errc::bad_option, "--filter", "'" + filter + "': " + pcap_geterr(handle));
  const int rc = pcap_setfilter(handle, &program);
  pcap_freecode(&program);
  if (rc != 0) return fail(errc::source_error, name, pcap_geterr(handle));
  return {};
}

}  // namespace

struct PcapSource::Impl {
  std::vector<Input> inputs;
  bool live = false;
  std::atomic<bool> stopped{false};
  SourceStats stats;

  ~Impl() {
    for (auto& in : inputs)
      if (in.handle != nullptr) pcap_close(in.handle);
  }

  // Reads the next packet of one input into its look-ahead slot. pcap_next_ex returns 1 for a
  // packet, 0 for a live timeout, PCAP_ERROR_BREAK at the end of a file or after
  // pcap_breakloop, PCAP_ERROR on failure.
  Status advance(Input& in) {
    const int rc = pcap_next_ex(in.handle, &in.header, &in.data);
    if (rc == 1) return {};
    in.data = nullptr;
    if (rc == 0) return {};
    in.done = true;
    if (rc == PCAP_ERROR_BREAK || stopped) return {};
    return fail(errc::source_error, in.name, std::string("reading packets: ") + pcap_geterr(in.handle));
  }

  std::vector<std::uint8_t> current;  // the packet handed out, for merged files
  bool pending_advance = false;       // one file: the packet handed out is still libpcap's
};

PcapSource::PcapSource(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PcapSource::~PcapSource() = default;

Result<std::unique_ptr<PcapSource>> PcapSource::open_files(const std::vector<std::string>& paths,
                                                           const std::string& filter) {
  auto impl = std::make_unique<Impl>();
  for (const auto& path : paths) {
    char err[PCAP_ERRBUF_SIZE] = "";
    pcap_t* h = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
    if (h == nullptr)
      return fail(errc::source_error, path, std::string(err) + " (is it a pcap or pcapng file?)");
    Input in;
    in.handle = h;
    in.name = path;
    in.link_type = static_cast<std::uint32_t>(pcap_datalink(h));
    const auto snap = static_cast<std::uint32_t>(pcap_snapshot(h));
    impl->stats.min_snaplen =
        impl->stats.min_snaplen == 0 ? snap : std::min(impl->stats.min_snaplen, snap);
    impl->inputs.push_back(in);
    if (Status st = apply_filter(h, path, filter); !st) return st.take_error();
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
  if (h == nullptr) return fail(errc::source_error, interface, err);
  auto impl = std::make_unique<Impl>();
  impl->live = true;
  Input in;
  in.handle = h;
  in.name = interface;
  impl->inputs.push_back(in);
  pcap_set_snaplen(h, o.snaplen);
  pcap_set_buffer_size(h, o.buffer_bytes);
  pcap_set_immediate_mode(h, o.immediate ? 1 : 0);
  pcap_set_timeout(h, o.timeout_ms);
  pcap_set_tstamp_precision(h, PCAP_TSTAMP_PRECISION_NANO);
  const int rc = pcap_activate(h);
  if (rc < 0) {
    std::string why = pcap_geterr(h);
    if (rc == PCAP_ERROR_PERM_DENIED) why += " (capturing needs root or CAP_NET_RAW)";
    if (rc == PCAP_ERROR_NO_SUCH_DEVICE) why += " (see `ip link` for interface names)";
    return fail(errc::source_error, interface, why);
  }
  impl->inputs[0].link_type = static_cast<std::uint32_t>(pcap_datalink(h));
  if (Status st = apply_filter(h, interface, filter); !st) return st.take_error();
  return std::unique_ptr<PcapSource>(new PcapSource(std::move(impl)));
}

Result<PcapSource::Next> PcapSource::next(Packet& out) {
  Impl& s = *impl_;
  if (s.stopped) return Next::End;
  if (s.live) {
    Input& in = s.inputs[0];
    if (in.done) return Next::End;
    if (Status st = s.advance(in); !st) return st.take_error();
    if (in.done) return Next::End;
    if (in.data == nullptr) return Next::Idle;
    out = {in.link_type, {in.data, in.header->caplen}, in.header->len, ts_ns(*in.header)};
    ++s.stats.packets;
    return Next::Packet;
  }
  // Files: hand out the earliest look-ahead packet, then refill that input.
  if (s.pending_advance) {
    s.pending_advance = false;
    if (Status st = s.advance(s.inputs[0]); !st) return st.take_error();
  }
  Input* best = nullptr;
  for (auto& in : s.inputs)
    if (!in.done && in.data != nullptr && (best == nullptr || ts_ns(*in.header) < ts_ns(*best->header)))
      best = &in;
  if (best == nullptr) return Next::End;
  ++s.stats.packets;
  if (s.inputs.size() == 1) {
    // One file: hand out libpcap's buffer itself and read ahead on the next call.
    out = {best->link_type, {best->data, best->header->caplen}, best->header->len, ts_ns(*best->header)};
    s.pending_advance = true;
    return Next::Packet;
  }
  // Several: copy out before advancing, as pcap_next_ex reuses the handle's buffer.
  s.current.assign(best->data, best->data + best->header->caplen);
  out = {best->link_type, s.current, best->header->len, ts_ns(*best->header)};
  if (Status st = s.advance(*best); !st) return st.take_error();
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
