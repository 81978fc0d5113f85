// Fuzz target: a whole pcap or pcapng file through the packet layer and HTTP assembly, as
// `reprise capture --pcap` reads it (the trace writer aside). The file goes through a memfd so
// that PcapSource opens it by name, as it opens any file. Small flow and buffer limits make
// eviction and the out-of-order limits reachable with small inputs.

#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "exchange_checker.hpp"
#include "fuzz_check.hpp"
#include "targets.hpp"
#include "reprise/capture/exchange_assembler.hpp"
#include "reprise/capture/packet_pipeline.hpp"
#include "reprise/capture/pcap_source.hpp"

namespace reprise::fuzz {

int pcap_file(const std::uint8_t* data, std::size_t size) {
  using namespace capture;
  const int fd = ::memfd_create("fuzz.pcap", 0);
  FUZZ_CHECK(fd >= 0);
  for (std::size_t done = 0; done < size;) {
    const ssize_t n = ::write(fd, data + done, size - done);
    FUZZ_CHECK(n > 0);
    done += static_cast<std::size_t>(n);
  }
  auto source = PcapSource::open_files({"/proc/self/fd/" + std::to_string(fd)}, "");
  if (source) {
    ExchangeAssembler::Options http;
    ExchangeChecker check(http.http.max_body);
    ExchangeAssembler assembler(http, [&](HttpExchange&& x) { check(x); });
    PacketPipeline::Options packets;
    packets.tcp.max_flows = 8;
    packets.tcp.max_out_of_order_segments = 16;
    packets.tcp.max_out_of_order_bytes = 4096;
    packets.defrag.max_datagrams = 4;
    packets.defrag.max_bytes = 8192;
    PacketPipeline pipeline(assembler, packets);
    Packet p;
    std::int64_t last_ns = 0;
    std::uint64_t count = 0;
    for (;;) {
      auto next = (*source)->next(p);
      if (!next || *next != PcapSource::Next::Packet) break;
      ++count;
      pipeline.add(p.link_type, p.data, p.wire_length, p.ts_ns);
      last_ns = p.ts_ns;
    }
    pipeline.finish(last_ns);
    const PacketStats stats = pipeline.stats();
    FUZZ_CHECK(stats.decode.packets == count);
    // After finish() every flow is closed, each once, for one reason.
    const auto& t = stats.tcp;
    FUZZ_CHECK(t.flows_opened == t.flows_closed_fin + t.flows_closed_reset + t.flows_closed_idle +
                                     t.flows_closed_evicted + t.flows_closed_end_of_input);
    FUZZ_CHECK(t.delivered_bytes <= t.payload_bytes);
  }
  ::close(fd);
  return 0;
}

}  // namespace reprise::fuzz
