// The HTML pages in a real browser: headless Chromium loads each page from a file, takes a
// screenshot and dumps the DOM it built. This catches what string checks cannot: markup the
// HTML parser repairs or drops (an unclosed element swallowing the plots), SVG that does not
// parse as SVG, a page that renders blank.
//
// Skipped with a warning when /usr/bin/chromium is not installed.

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "reprise/report/html_report.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace {

using reprise::replay::OutcomeError;
using reprise::replay::OutcomeFacts;
using namespace reprise::report;
using reprise::test::TempDir;

constexpr const char* kChromium = "/usr/bin/chromium";
constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kS = 1'000'000'000;

// A ten-second run of two routes with a latency spread, some 5xx and a timeout.
Report make_report(std::int64_t extra_ns) {
  Report r;
  RunFileInfo file;
  file.path = "/tmp/runs/run <1>.reprise";
  file.target = "127.0.0.1:8080";
  r.files.push_back(file);
  r.end_reason = "completed";
  r.epoch_unix_ns = 1'700'000'000 * kS;
  r.last_ns = 10 * kS;
  r.late_threshold_ns = 10 * kMs;
  RouteReport a{"GET /a<b>", {}}, users{"POST /users/{id}", {}};
  for (int i = 0; i < 1000; ++i) {
    OutcomeFacts f;
    f.intended_ns = i * 10 * kMs;
    f.sent_ns = f.intended_ns + (i % 7) * kMs;
    f.done_ns = f.intended_ns + (1 + i % 97) * kMs + (i % 100 == 0 ? 300 * kMs : 0) + extra_ns;
    f.status = i % 50 == 0 ? 503 : 200;
    f.bytes_sent = 100;
    if (i == 500) {
      f.status = 0;
      f.error = OutcomeError::Timeout;
    }
    RouteReport& route = i % 3 == 0 ? users : a;
    r.overall.stats.add(f);
    route.tally.stats.add(f);
  }
  r.routes = {a, users};
  for (int s = 0; s < 10; ++s) {
    SecondStats sec;
    sec.start_ns = s * kS;
    sec.outcomes = sec.sent = sec.responses = 100;
    sec.failed = 2;
    sec.p50_ns = (50 + s) * kMs + extra_ns;
    sec.p90_ns = (90 + s) * kMs + extra_ns;
    sec.p99_ns = (200 + 10 * s) * kMs + extra_ns;
    sec.max_ns = 400 * kMs;
    r.seconds.push_back(sec);
  }
  return r;
}

Comparison make_comparison() {
  Comparison c;
  c.base = make_report(0);
  c.candidate = make_report(20 * kMs);
  c.pairs = 1000;
  c.overall.route = "(all)";
  QuantileDelta d;
  d.p = 0.99;
  d.base = {300 * kMs, 290 * kMs, 310 * kMs, 1000};
  d.candidate = {320 * kMs, 310 * kMs, 330 * kMs, 1000};
  d.change = 320.0 / 300 - 1;
  d.direction = 1;
  c.overall.latency = {d};
  c.routes = {c.overall};
  c.routes[0].route = "GET /a<b>";
  FieldDiff noise;
  noise.route = "GET /a<b>";
  noise.path = "$.generated_at";
  noise.count = {1000, 1000, 1000, 1000, true};
  c.fields = {noise};
  c.noise_sources = {"2 clones per exchange"};
  return c;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// Chromium with a fresh profile, under coreutils timeout: Chromium starts helper processes, and
// timeout signals its whole process group, so a hung browser cannot outlive the test.
reprise::test::ProcessResult chromium(const std::vector<std::string>& args) {
  TempDir profile;
  std::vector<std::string> argv = {"/usr/bin/timeout",
                                   "-k",
                                   "5",
                                   "60",
                                   kChromium,
                                   "--headless",
                                   "--no-sandbox",
                                   "--disable-gpu",
                                   "--disable-quic",
                                   "--no-first-run",
                                   "--disable-background-networking",
                                   "--disable-component-update",
                                   "--disable-sync",
                                   "--disable-dev-shm-usage",
                                   "--user-data-dir=" + profile.path().string(),
                                   "--window-size=1280,2000"};
  argv.insert(argv.end(), args.begin(), args.end());
  return reprise::test::run(argv, {}, std::chrono::seconds(90));
}

// The page is rendered: a PNG of real size. A single-colour 1280x2000 screenshot deflates to
// under 10 KB; text, tables and plots take several times that.
void check_screenshot(const std::string& html_path, const std::string& png_path) {
  const auto result = chromium({"--screenshot=" + png_path, "file://" + html_path});
  INFO("chromium exit " << result.exit_code << "\n" << result.err);
  REQUIRE(std::filesystem::exists(png_path));
  const std::string png = read_file(png_path);
  CHECK(png.rfind("\x89PNG\r\n\x1a\n", 0) == 0);
  CHECK(png.size() > 40'000);
}

std::string dump_dom(const std::string& html_path) {
  const auto result = chromium({"--dump-dom", "file://" + html_path});
  INFO("chromium exit " << result.exit_code << "\n" << result.err);
  REQUIRE(result.exit_code == 0);
  return result.out;
}

bool has(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

// Nothing swallowed the end of the page: the parser closed <main> where the renderer did, and
// only white space follows it.
bool ends_after_main(const std::string& dom) {
  const auto main_end = dom.rfind("</main>");
  if (main_end == std::string::npos) return false;
  std::string rest;
  for (char ch : dom.substr(main_end + 7))
    if (ch != ' ' && ch != '\n') rest += ch;
  return rest == "</body></html>";
}

}  // namespace

TEST_CASE("chromium renders the report page with its plots and routes") {
  if (!std::filesystem::exists(kChromium)) {
    WARN("skipped: " << kChromium << " is not installed");
    return;
  }
  TempDir dir;
  const std::string html = dir.file("report.html");
  write_file(html, render_report_html(make_report(0)));
  check_screenshot(html, dir.file("report.png"));

  const std::string dom = dump_dom(html);
  // The DOM the parser built still holds every plot, as SVG with its lines, after the tables.
  for (const char* id : {"latency-plot", "timeline-rate", "timeline-latency"}) {
    INFO(id);
    CHECK(has(dom, "<svg id=\"" + std::string(id) + "\""));
  }
  CHECK(has(dom, "<polyline points="));
  CHECK(has(dom, "GET /a&lt;b&gt;"));
  CHECK(has(dom, "POST /users/{id}"));
  CHECK(has(dom, "run &lt;1&gt;.reprise"));
  CHECK(ends_after_main(dom));
}

TEST_CASE("chromium renders the compare page with its verdict and noise rows") {
  if (!std::filesystem::exists(kChromium)) {
    WARN("skipped: " << kChromium << " is not installed");
    return;
  }
  TempDir dir;
  const std::string html = dir.file("compare.html");
  GateResult rule;
  rule.rule = "p99>+5%";
  rule.failed = true;
  rule.findings = {"GET /a<b>: p99 300ms -> 320ms (+6.7%)"};
  write_file(html, render_compare_html(make_comparison(), {rule}));
  check_screenshot(html, dir.file("compare.png"));

  const std::string dom = dump_dom(html);
  CHECK(has(dom, "<span class=\"verdict fail\">FAIL</span>"));
  CHECK(has(dom, "GET /a&lt;b&gt;: p99 300ms -&gt; 320ms (+6.7%)"));
  CHECK(has(dom, "<svg id=\"latency-plot\""));
  CHECK(has(dom, "<tr class=\"noise\">"));
  CHECK(has(dom, "<span class=\"tag noise\">noise</span>"));
  CHECK(ends_after_main(dom));
}
