// End to end: real traffic between curl / ab / a pipelining client and a real nginx, captured by
// tcpdump on loopback, turned into a trace by `reprise capture`, checked against nginx's own
// access log (the truth) and against tshark (a second opinion).

#include <pcap/pcap.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "reprise/format/reader.hpp"
#include "support/nginx.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

using namespace reprise;
using namespace reprise::test;

namespace {

struct Seen {
  std::string method, target;
  int status = 0;
  std::uint64_t request_body = 0, response_body = 0;
  std::uint32_t flags = 0;
  std::uint64_t connection = 0, session = 0;
};

std::vector<Seen> read_trace(const std::string& path) {
  std::vector<Seen> out;
  auto r = format::Reader::open(path);
  REQUIRE(r.ok());
  format::Record rec;
  for (;;) {
    auto more = (*r)->next(rec);
    REQUIRE(more.ok());
    if (!*more) break;
    const auto* e = rec.exchange();
    Seen s;
    if (e->request()) {
      s.method = e->request()->method()->str();
      s.target = e->request()->target()->str();
      s.request_body = e->request()->body_size();
    }
    if (e->response()) {
      s.status = e->response()->status();
      s.response_body = e->response()->body_size();
    }
    s.flags = static_cast<std::uint32_t>(e->flags());
    s.connection = e->connection_id();
    s.session = e->session_id();
    out.push_back(s);
  }
  return out;
}

// Sends `requests` on one connection in a single write (pipelining) and reads until close.
std::string send_pipelined(const std::vector<std::string>& prefix, int port,
                           const std::string& requests) {
  auto r = run(prefixed(prefix, {"/bin/bash", "-c",
                                 "exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(port) +
                                     "; cat >&3; cat <&3"}),
               requests, std::chrono::seconds(10));
  if (r.exit_code != 0) FAIL("pipelined client: exit " << r.exit_code << ": " << r.err);
  return r.out;
}

std::string key(const std::string& m, const std::string& t, int status) {
  return m + " " + t + " " + std::to_string(status);
}

// Drives a fixed mix of traffic at nginx (in the namespace `prefix` names, if any).
void drive_traffic(const Nginx& nginx, const TempDir& dir, const std::vector<std::string>& prefix) {
  const std::string upload = dir.file("upload.bin");
  {
    std::ofstream f(upload, std::ios::binary);
    std::mt19937 rng(1);
    for (int i = 0; i < 300000; ++i) f.put(static_cast<char>(rng()));
  }
  auto curl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"curl", "-s", "-o", "/dev/null"});
    REQUIRE(run(prefixed(prefix, args)).exit_code == 0);
  };
  // One connection each, and bodies of every size nginx serves.
  for (const char* n : {"0", "100", "10000", "1000000"}) curl({nginx.url(std::string("/static/") + n)});
  // Keep-alive: curl reuses one connection for several URLs.
  curl({nginx.url("/static/100"), "-o", "/dev/null", nginx.url("/static/10000?x=1"), "-o",
        "/dev/null", nginx.url("/status/404")});
  // Bodies: Content-Length POST of 300 KB, a small PUT, a chunked upload, HTTP/1.0, HEAD.
  curl({"-X", "POST", "--data-binary", "@" + upload, nginx.url("/echo?upload=1")});
  curl({"-X", "PUT", "--data", "name=value", nginx.url("/echo?put=1")});
  curl({"-H", "Transfer-Encoding: chunked", "--data-binary", "@" + upload, nginx.url("/echo?chunked=1")});
  curl({"-0", nginx.url("/static/100?http10=1")});
  curl({"-I", nginx.url("/static/10000?head=1")});
  curl({nginx.url("/status/500")});
  // gzip: the trace keeps the content-coding, so its body size is what went on the wire.
  curl({"--compressed", nginx.url("/gzip/10000?gz=1")});
  // Pipelining: three requests in one write, a HEAD in the middle.
  const std::string host = "Host: 127.0.0.1\r\n";
  const auto answer = send_pipelined(
      prefix, nginx.port(), "GET /static/100?pipe=1 HTTP/1.1\r\n" + host + "\r\n" +
                        "HEAD /static/10000?pipe=2 HTTP/1.1\r\n" + host + "\r\n" +
                        "GET /static/100?pipe=3 HTTP/1.1\r\n" + host + "Connection: close\r\n\r\n");
  REQUIRE(answer.find("HTTP/1.1 200") != std::string::npos);
  // ab: 40 requests over 4 concurrent keep-alive connections, if ab is installed.
  if (::access("/usr/bin/ab", X_OK) == 0)
    REQUIRE(run(prefixed(prefix, {"ab", "-q", "-k", "-n", "40", "-c", "4", nginx.url("/static/100?ab=1")}))
                .exit_code == 0);
}

// Capturing nginx traffic needs nginx, tcpdump and root; without them a test is skipped, said.
bool can_capture_nginx() {
  if (Nginx::available() && Tcpdump::available() && ::geteuid() == 0) return true;
  WARN("skipped: needs nginx, tcpdump and root (tests/run.sh installs them; CI runs as root)");
  return false;
}

// Runs `traffic` against a fresh nginx while tcpdump records it into `pcap`; nginx's log.
std::vector<AccessLogEntry> record_nginx(const std::string& pcap,
                                         const std::function<void(const Nginx&)>& traffic) {
  Nginx nginx;
  Tcpdump dump(pcap, nginx.port());
  traffic(nginx);
  dump.stop();
  return nginx.access_log();
}

}  // namespace

// Captures the fixed traffic mix with tcpdump and checks reprise's trace against nginx's log.
static void check_capture_against_nginx(const std::vector<std::string>& prefix) {
  TempDir dir;
  const auto pcap = dir.file("traffic.pcap");
  std::vector<AccessLogEntry> log;
  {
    Nginx nginx(prefix);
    Tcpdump dump(pcap, nginx.port(), "lo", prefix);
    drive_traffic(nginx, dir, prefix);
    dump.stop();
    log = nginx.access_log();
  }
  REQUIRE(log.size() >= 15);

  const auto trace = dir.file("traffic.rtrace");
  const auto stats = dir.file("stats.json");
  auto cap = run({reprise_bin(), "capture", "--pcap", pcap, "-o", trace, "--stats-json", stats});
  INFO(cap.err);
  REQUIRE(cap.exit_code == 0);
  const auto seen = read_trace(trace);

  // The same multiset of (method, target, status) as nginx's log.
  std::multiset<std::string> expected, got;
  std::map<std::string, long> expected_body;
  for (const auto& e : log) {
    expected.insert(key(e.method, e.uri, e.status));
    expected_body[key(e.method, e.uri, e.status)] = e.body_bytes_sent;
  }
  for (const auto& s : seen) got.insert(key(s.method, s.target, s.status));
  CHECK(got == expected);

  // Response bodies as nginx counted them (HEAD: none on the wire); request bodies whole.
  for (const auto& s : seen) {
    INFO(s.method << " " << s.target);
    if (s.target == "/gzip/10000?gz=1") {
      // Sent chunked: nginx counts the chunk framing too, the trace the decoded (still gzip) body.
      CHECK(s.response_body > 0);
      CHECK(s.response_body < 10000);
      CHECK(static_cast<long>(s.response_body) < expected_body[key(s.method, s.target, s.status)]);
    } else if (s.method != "HEAD") {
      CHECK(static_cast<long>(s.response_body) == expected_body[key(s.method, s.target, s.status)]);
    }
    if (s.target == "/echo?upload=1" || s.target == "/echo?chunked=1") CHECK(s.request_body == 300000);
    if (s.target == "/echo?put=1") CHECK(s.request_body == 10);
    CHECK(s.flags == 0);  // a clean loopback capture has no anomaly
  }
  // The three pipelined requests share one connection; curl's keep-alive URLs another.
  std::map<std::string, std::uint64_t> conn;
  for (const auto& s : seen) conn[s.target] = s.connection;
  CHECK(conn["/static/100?pipe=1"] == conn["/static/10000?pipe=2"]);
  CHECK(conn["/static/100?pipe=1"] == conn["/static/100?pipe=3"]);
  CHECK(conn["/static/100"] == conn["/static/10000?x=1"]);
  CHECK(conn["/static/100"] != conn["/static/100?pipe=1"]);

  const auto j = nlohmann::json::parse(std::ifstream(stats));
  CHECK(j["trace.exchanges_written"] == log.size());
  CHECK(j["http.parse_errors"] == 0);

  // tshark as a second opinion, where it is installed: it may see fewer (it is known to lose a
  // HEAD answered inside a pipeline), never more.
  if (::access("/usr/bin/tshark", X_OK) == 0) {
    auto t = run({"tshark", "-n", "-r", pcap, "-Y", "http.request", "-T", "fields", "-e", "http.request.uri"});
    if (t.exit_code == 0) {
      const auto lines = static_cast<std::size_t>(std::count(t.out.begin(), t.out.end(), '\n'));
      CHECK(lines <= seen.size());
      WARN("tshark saw " << lines << " requests, reprise " << seen.size() << ", nginx logged " << log.size());
    }
  }
}

TEST_CASE("capture: a real tcpdump capture of nginx traffic holds exactly what nginx logged",
          "[capture][integration]") {
  if (!can_capture_nginx()) return;
  check_capture_against_nginx({});
}

TEST_CASE("capture: the same with real 1500-byte segments (a namespace whose loopback has MTU "
          "1500 and no offloads)",
          "[capture][integration][netns]") {
  if (!Nginx::available() || !Tcpdump::available() || !NetNs::available()) {
    WARN("skipped: needs nginx, tcpdump, ip, ethtool and root");
    return;
  }
  NetNs ns;
  check_capture_against_nginx(ns.prefix());
}

TEST_CASE("capture: segments reordered and duplicated in the pcap change nothing, a dropped one or "
          "a snaplen cut is flagged, never invented",
          "[capture][integration]") {
  if (!can_capture_nginx()) return;
  TempDir dir;
  const auto pcap = dir.file("clean.pcap");
  const std::size_t logged = record_nginx(pcap, [](const Nginx& nginx) {
    for (int i = 0; i < 5; ++i)
      REQUIRE(run({"curl", "-s", "-o", "/dev/null", nginx.url("/static/1000000?i=" + std::to_string(i))}).exit_code == 0);
  }).size();
  REQUIRE(logged == 5);

  // Read every packet, then write variants with libpcap's dump API.
  struct Pkt {
    pcap_pkthdr h;
    std::vector<std::uint8_t> data;
  };
  std::vector<Pkt> pkts;
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* in = pcap_open_offline(pcap.c_str(), err);
  REQUIRE(in != nullptr);
  const int link = pcap_datalink(in);
  pcap_pkthdr* h = nullptr;
  const u_char* d = nullptr;
  while (pcap_next_ex(in, &h, &d) == 1) pkts.push_back({*h, std::vector<std::uint8_t>(d, d + h->caplen)});
  pcap_close(in);
  REQUIRE(pkts.size() > 20);

  auto write_pcap = [&](const std::string& path, const std::vector<Pkt>& ps) {
    pcap_t* dead = pcap_open_dead(link, 262144);
    pcap_dumper_t* out = pcap_dump_open(dead, path.c_str());
    REQUIRE(out != nullptr);
    for (const auto& p : ps) pcap_dump(reinterpret_cast<u_char*>(out), &p.h, p.data.data());
    pcap_dump_close(out);
    pcap_close(dead);
  };
  auto capture = [&](const std::string& path) {
    const auto trace = path + ".rtrace";
    auto r = run({reprise_bin(), "capture", "--pcap", path, "-o", trace});
    UNSCOPED_INFO(r.err);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return read_trace(trace);
  };
  // Data-carrying packets are the large ones (the 1 MB responses).
  std::vector<std::size_t> big;
  for (std::size_t i = 0; i < pkts.size(); ++i)
    if (pkts[i].h.caplen > 1000) big.push_back(i);
  REQUIRE(big.size() > 10);

  SECTION("reordered and duplicated") {
    // Local reordering, as a network does it: two neighbouring data segments change places.
    auto ps = pkts;
    std::size_t swapped = 0;
    for (std::size_t k = 0; k + 1 < big.size(); ++k) {
      if (big[k + 1] != big[k] + 1 || k % 3 != 0) continue;
      std::swap(ps[big[k]], ps[big[k + 1]]);
      ++swapped;
    }
    REQUIRE(swapped > 3);
    std::vector<Pkt> with_dups;
    for (std::size_t i = 0; i < ps.size(); ++i) {
      with_dups.push_back(ps[i]);
      if (i % 4 == 0) with_dups.push_back(ps[i]);  // a retransmission
    }
    write_pcap(dir.file("shuffled.pcap"), with_dups);
    const auto seen = capture(dir.file("shuffled.pcap"));
    for (const auto& s : seen)
      UNSCOPED_INFO(s.method << " " << s.target << " " << s.status << " flags " << s.flags << " conn "
                             << s.connection << " body " << s.response_body);
    REQUIRE(seen.size() == 5);
    for (const auto& s : seen) {
      CHECK(s.status == 200);
      CHECK(s.response_body == 1000000);
      CHECK(s.flags == 0);
    }
  }
  // Whether a packet carries a response head: how many segments a response takes, and whether
  // its head rides with body bytes, depends on how busy the machine was when nginx wrote it.
  auto carries_head = [&](std::size_t i) {
    const std::string_view bytes(reinterpret_cast<const char*>(pkts[i].data.data()), pkts[i].data.size());
    return bytes.find("HTTP/1.1 200") != std::string_view::npos;
  };
  SECTION("a dropped body segment, each one in turn") {
    // Bodies are letters, never "HTTP/1.1": every other big packet is body only, the first and
    // the last of a response included.
    std::size_t tried = 0;
    for (const std::size_t victim : big) {
      if (carries_head(victim)) continue;
      ++tried;
      INFO("dropped packet " << victim << " of " << pkts.size());
      auto ps = pkts;
      ps.erase(ps.begin() + static_cast<long>(victim));
      write_pcap(dir.file("dropped.pcap"), ps);
      const auto seen = capture(dir.file("dropped.pcap"));
      REQUIRE(seen.size() == 5);  // every exchange is still there
      int flagged = 0;
      for (const auto& s : seen) {
        CHECK(s.status == 200);
        if (s.flags != 0) {
          ++flagged;
          CHECK((s.flags & static_cast<std::uint32_t>(format::fb::ExchangeFlags::Gap)) != 0);
          // A lost packet, not the snaplen: the trace tells them apart.
          CHECK((s.flags & static_cast<std::uint32_t>(format::fb::ExchangeFlags::SnaplenTruncated)) == 0);
          CHECK(s.response_body == 1000000);  // the size on the wire, with the hole counted
        }
      }
      CHECK(flagged == 1);
    }
    CHECK(tried > 5);
  }
  SECTION("a dropped response head") {
    std::vector<std::size_t> heads;
    for (std::size_t i = 0; i < pkts.size(); ++i)
      if (carries_head(i)) heads.push_back(i);
    REQUIRE(heads.size() == 5);
    auto ps = pkts;
    ps.erase(ps.begin() + static_cast<long>(heads[2]));
    write_pcap(dir.file("headless.pcap"), ps);
    const auto seen = capture(dir.file("headless.pcap"));
    REQUIRE(seen.size() == 5);  // the request is kept; no status or body is made up for it
    const auto no_response = static_cast<std::uint32_t>(format::fb::ExchangeFlags::NoResponse) |
                             static_cast<std::uint32_t>(format::fb::ExchangeFlags::Gap);
    for (const auto& s : seen) {
      if (s.target != "/static/1000000?i=2") {
        CHECK(s.status == 200);
        CHECK(s.flags == 0);
        continue;
      }
      CHECK(s.status == 0);
      CHECK(s.response_body == 0);
      CHECK(s.flags == no_response);
    }
  }
  SECTION("cut by a small snaplen") {
    // As `tcpdump -s 1000` records: each packet's first 1000 bytes (the heads fit), its length
    // on the wire kept.
    auto ps = pkts;
    for (auto& p : ps) {
      p.h.caplen = std::min<bpf_u_int32>(p.h.caplen, 1000);
      p.data.resize(p.h.caplen);
    }
    write_pcap(dir.file("snaplen.pcap"), ps);
    const auto trace = dir.file("snaplen.pcap.rtrace");
    const auto r = run({reprise_bin(), "capture", "--pcap", dir.file("snaplen.pcap"), "-o", trace});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.err.find("snaplen") != std::string::npos);  // the summary warns
    const auto seen = read_trace(trace);
    REQUIRE(seen.size() == 5);
    for (const auto& s : seen) {
      CHECK(s.status == 200);
      CHECK(s.response_body == 1000000);
      CHECK((s.flags & static_cast<std::uint32_t>(format::fb::ExchangeFlags::Gap)) != 0);
      CHECK((s.flags & static_cast<std::uint32_t>(format::fb::ExchangeFlags::SnaplenTruncated)) != 0);
    }
  }
}

namespace {

// Two nginx instances on two ports, each captured by its own tcpdump: three GETs to each, whose
// targets say which ("?a=0" on the first, "?b=0" on the second).
struct TwoPortCapture {
  std::string pcap_a, pcap_b;
  int port_a = 0, port_b = 0;
};

TwoPortCapture capture_two_ports(const TempDir& dir) {
  TwoPortCapture t{dir.file("a.pcap"), dir.file("b.pcap")};
  Nginx a, b;
  t.port_a = a.port();
  t.port_b = b.port();
  Tcpdump dump_a(t.pcap_a, a.port()), dump_b(t.pcap_b, b.port());
  for (int i = 0; i < 3; ++i)
    for (const auto& [nginx, tag] : {std::pair{&a, "a"}, std::pair{&b, "b"}})
      REQUIRE(run({"curl", "-s", "-o", "/dev/null",
                   nginx->url("/static/100?" + std::string(tag) + "=" + std::to_string(i))})
                  .exit_code == 0);
  dump_a.stop();
  dump_b.stop();
  return t;
}

// The targets in the trace `reprise capture <args> -o TRACE` writes (with `input` on its
// standard input).
std::multiset<std::string> captured_targets(const TempDir& dir, std::vector<std::string> args,
                                            const std::string& input = {}) {
  const auto trace = dir.file("targets.rtrace");
  args.insert(args.begin(), {reprise_bin(), "capture"});
  args.insert(args.end(), {"-o", trace});
  auto r = run(args, input);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::multiset<std::string> targets;
  for (const auto& s : read_trace(trace)) targets.insert(s.target);
  return targets;
}

const std::multiset<std::string> kOnA = {"/static/100?a=0", "/static/100?a=1", "/static/100?a=2"};
const std::multiset<std::string> kOnB = {"/static/100?b=0", "/static/100?b=1", "/static/100?b=2"};

}  // namespace

TEST_CASE("capture: a repeated --port keeps traffic on any of the ports and --filter narrows it",
          "[capture][integration]") {
  if (!can_capture_nginx()) return;
  TempDir dir;
  const auto t = capture_two_ports(dir);
  const std::vector<std::string> both = {"--pcap", t.pcap_a, "--pcap", t.pcap_b};
  auto with = [&](std::vector<std::string> more) {
    more.insert(more.begin(), both.begin(), both.end());
    return more;
  };
  std::multiset<std::string> all = kOnA;
  all.insert(kOnB.begin(), kOnB.end());
  const auto a = std::to_string(t.port_a), b = std::to_string(t.port_b);
  CHECK(captured_targets(dir, with({"--port", a, "--port", b})) == all);
  CHECK(captured_targets(dir, with({"--port", b})) == kOnB);
  // Only a's: `(F) and (A or B)`. Without the parentheses, `F and A or B` would let b's in.
  CHECK(captured_targets(dir, with({"--filter", "tcp port " + a, "--port", a, "--port", b})) == kOnA);
}

TEST_CASE("capture: --pcap - reads the capture from standard input (a pipe)",
          "[capture][integration]") {
  if (!can_capture_nginx()) return;
  TempDir dir;
  const auto t = capture_two_ports(dir);
  std::ifstream in(t.pcap_a, std::ios::binary);
  const std::string pcap((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(!pcap.empty());
  CHECK(captured_targets(dir, {"--pcap", "-"}, pcap) == kOnA);
  // Merged with a file, as several files are.
  std::multiset<std::string> all = kOnA;
  all.insert(kOnB.begin(), kOnB.end());
  CHECK(captured_targets(dir, {"--pcap", "-", "--pcap", t.pcap_b}, pcap) == all);
}

TEST_CASE("capture: a pcap cut off mid-packet keeps every exchange before the cut, then says where",
          "[capture][integration]") {
  if (!can_capture_nginx()) return;
  // Two small answers, then a 1 MB one on the same connection: the file is cut inside the big
  // answer, with the small exchanges complete but not yet handed to the recorder, and the big
  // one still open.
  TempDir dir;
  const auto pcap = dir.file("whole.pcap");
  record_nginx(pcap, [](const Nginx& nginx) {
    REQUIRE(run({"curl", "-s", "-o", "/dev/null", nginx.url("/static/100?a=1"), "-o", "/dev/null",
                 nginx.url("/static/100?b=1"), "-o", "/dev/null", nginx.url("/static/1000000?c=1")})
                .exit_code == 0);
  });
  const auto cut = dir.file("cut.pcap");
  {
    std::ifstream in(pcap, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(bytes.size() > 600000);
    std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() / 2 + 7);
  }
  const auto trace = dir.file("cut.rtrace");
  auto r = run({reprise_bin(), "capture", "--pcap", cut, "-o", trace});
  INFO(r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.err.find(cut) != std::string::npos);
  CHECK(r.err.find("at byte") != std::string::npos);
  std::map<std::string, std::uint32_t> flags_of;
  for (const auto& s : read_trace(trace)) flags_of[s.target] = s.flags;
  REQUIRE(flags_of.count("/static/100?a=1") == 1);
  REQUIRE(flags_of.count("/static/100?b=1") == 1);
  CHECK(flags_of["/static/100?a=1"] == 0);
  CHECK(flags_of["/static/100?b=1"] == 0);
  CHECK(flags_of.count("/static/1000000?c=1") == 1);  // written, its answer flagged incomplete
}

TEST_CASE("capture: --max-exchanges counts the exchanges the filters keep", "[capture][integration]") {
  if (!can_capture_nginx()) return;
  // Four GETs, then two HEADs: --method HEAD --max-exchanges 1 writes the first HEAD (it used to
  // stop after the first exchange of any method, and write none).
  TempDir dir;
  const auto pcap = dir.file("mix.pcap");
  record_nginx(pcap, [](const Nginx& nginx) {
    for (int i = 0; i < 4; ++i)
      REQUIRE(run({"curl", "-s", "-o", "/dev/null", nginx.url("/static/100?get=" + std::to_string(i))}).exit_code == 0);
    for (int i = 0; i < 2; ++i)
      REQUIRE(run({"curl", "-s", "-I", nginx.url("/static/100?head=" + std::to_string(i))}).exit_code == 0);
  });
  const auto trace = dir.file("head.rtrace");
  auto r = run({reprise_bin(), "capture", "--pcap", pcap, "-o", trace, "--method", "HEAD",
                "--max-exchanges", "1"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto seen = read_trace(trace);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].target == "/static/100?head=0");
}

TEST_CASE("capture: out-of-range flag values are refused with exit 2 and the flag named", "[capture][cli]") {
  // Unsigned flags took "-1" as 2^64-1: --max-flows -1 removed the memory bound.
  TempDir dir;
  const std::string pcap = dir.file("unread.pcap");  // the flags are refused before it is opened
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--max-flows", "-1"}, {"--max-flows", "0"}, {"--max-exchanges", "-1"},
      {"--port", "70000"},   {"--port", "-1"},     {"--snaplen", "-5"},
      {"--snaplen", "100"},  // a live capture's setting, given with a pcap file
      {"--sample", "0.5"},   // half, or half a percent? The % sign is required.
      {"--max-body", "17MiB"},  // two bodies must fit a trace record (64 MiB)
  };
  for (const auto& [flag, value] : cases) {
    const auto r = run({reprise_bin(), "capture", "--pcap", pcap, "-o", dir.file("t.rtrace"), flag, value});
    INFO(flag << " " << value << ": " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(flag) != std::string::npos);
  }
}

TEST_CASE("capture: an interface that cannot be opened is an environment error (exit 4), named",
          "[capture][cli]") {
  TempDir dir;
  const auto r = run({reprise_bin(), "capture", "-i", "nosuchif0", "-o", dir.file("t.rtrace")});
  INFO(r.err);
  CHECK(r.exit_code == 4);
  CHECK(r.err.find("nosuchif0") != std::string::npos);
}

TEST_CASE("capture: a --stats-json that cannot be written is exit 4, and the trace is still whole",
          "[capture][cli]") {
  TempDir dir;
  const std::string pcap = source_dir() + "/samples/demo.pcap";
  const auto trace = dir.file("t.rtrace");
  const auto r = run({reprise_bin(), "capture", "--pcap", pcap, "-o", trace, "--stats-json", dir.file("no/such/dir/s.json")});
  INFO(r.err);
  CHECK(r.exit_code == 4);
  CHECK(r.err.find("s.json") != std::string::npos);
  CHECK(run({reprise_bin(), "trace", "verify", trace}).exit_code == 0);
}
