// The HTML pages, rendered from reports and comparisons built by hand: self-contained, escaped,
// with the plots, tables and gate findings the data calls for.

#include "reprise/report/html_report.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <limits>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {

using reprise::replay::OutcomeError;
using reprise::replay::OutcomeFacts;
using namespace reprise::report;

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kS = 1'000'000'000;

OutcomeFacts response(std::int64_t intended_ns, std::int64_t latency_ns, std::uint16_t status,
                      std::int64_t late_ns = 0) {
  OutcomeFacts f;
  f.intended_ns = intended_ns;
  f.sent_ns = intended_ns + late_ns;
  f.first_byte_ns = intended_ns + latency_ns / 2;
  f.done_ns = intended_ns + latency_ns;
  f.status = status;
  f.bytes_sent = 100;
  f.bytes_received = 1000;
  return f;
}

OutcomeFacts failure(std::int64_t intended_ns, OutcomeError error) {
  OutcomeFacts f;
  f.intended_ns = intended_ns;
  f.sent_ns = error == OutcomeError::Shed ? 0 : intended_ns;
  f.bytes_sent = error == OutcomeError::Shed ? 0 : 100;
  f.done_ns = intended_ns + 50 * kMs;
  f.error = error;
  return f;
}

void add(Report& r, RouteReport& route, const OutcomeFacts& f) {
  r.overall.stats.add(f);
  route.tally.stats.add(f);
}

// A five-second run of two routes: "GET /a<b>" with latencies 1..200 ms, a few 500s, a timeout
// and a shed request; "POST /users/{id}" always 10 ms. The third second has no timed response.
Report make_report(std::int64_t extra_latency_ns = 0) {
  Report r;
  RunFileInfo file;
  file.path = "/tmp/runs/base <1>.reprise";
  file.trace_path = "traces/shop&co.trace";
  file.target = "127.0.0.1:8080";
  file.end_reason = "completed";
  r.files.push_back(file);
  r.end_reason = "completed";
  r.epoch_unix_ns = 1'700'000'000 * kS;
  r.first_ns = 0;
  r.last_ns = 5 * kS;
  r.late_threshold_ns = 10 * kMs;
  RouteReport a{"GET /a<b>", {}}, users{"POST /users/{id}", {}};
  for (int i = 1; i <= 200; ++i) add(r, a, response(i * 20 * kMs, i * kMs + extra_latency_ns, 200));
  for (int i = 0; i < 4; ++i) add(r, a, response(i * kS, 5 * kMs, 503));
  add(r, a, failure(kS, OutcomeError::Timeout));
  add(r, a, failure(2 * kS, OutcomeError::Shed));
  for (int i = 0; i < 50; ++i)
    add(r, users, response(i * 80 * kMs, 10 * kMs + extra_latency_ns, 201));
  r.routes = {a, users};
  for (int s = 0; s < 5; ++s) {
    SecondStats sec;
    sec.start_ns = s * kS;
    sec.outcomes = sec.sent = s == 2 ? 3 : 60;
    sec.failed = s == 1 ? 2 : 0;
    sec.responses = s == 2 ? 0 : 58;
    sec.p50_ns = s == 2 ? 0 : 20 * kMs;
    sec.p90_ns = s == 2 ? 0 : 80 * kMs;
    sec.p99_ns = s == 2 ? 0 : 150 * kMs + s * kMs;
    sec.max_ns = s == 2 ? 0 : 200 * kMs;
    r.seconds.push_back(sec);
  }
  r.warnings.push_back("shard 2 of 2 is missing & <late>");
  return r;
}

QuantileDelta delta(double p, std::int64_t base_ns, std::int64_t candidate_ns, double low,
                    double high, int direction) {
  QuantileDelta d;
  d.p = p;
  d.base = {base_ns, base_ns, base_ns, 250};
  d.candidate = {candidate_ns, candidate_ns, candidate_ns, 250};
  d.change = static_cast<double>(candidate_ns) / static_cast<double>(base_ns) - 1;
  d.change_low = low;
  d.change_high = high;
  d.direction = direction;
  return d;
}

Comparison make_comparison() {
  Comparison c;
  c.base = make_report();
  c.candidate = make_report(5 * kMs);
  c.candidate.files[0].path = "/tmp/runs/candidate.reprise";
  // A run set's warnings start with its role, as RunSet writes them.
  c.base.warnings = {"base: shard 2 of 2 is missing & <late>"};
  c.candidate.warnings = {"candidate: shard 2 of 2 is missing & <late>"};
  c.noise_sources = {"2 clones per exchange", "second baseline: noise<2>.reprise"};
  c.warnings = {"3 bodies over the memory limit were compared by digest"};
  c.pairs = 254;
  c.base_unpaired = 1;
  c.candidate_unpaired = 2;
  c.noise_pairs = 254;
  c.bodies_compared = 240;
  c.bodies_differing = 12;
  c.status_changes = 4;
  c.error_changes = 1;
  c.overall.route = "(all)";
  c.overall.pairs = 254;
  c.overall.latency = {delta(0.5, 20 * kMs, 30 * kMs, 0.2, 0.8, 1)};
  c.overall.errors = {5, 256, 9, 256};
  RouteComparison a;
  a.route = "GET /a<b>";
  a.pairs = 204;
  a.latency = {delta(0.5, 100 * kMs, 150 * kMs, 0.2, 0.8, 1),
               delta(0.99, 200 * kMs, 100 * kMs, -0.7, -0.3, -1),
               delta(0.999, 200 * kMs, 202 * kMs, -0.1, 0.1, 0)};
  RouteComparison users;
  users.route = "POST /users/{id}";
  c.routes = {a, users};

  FieldDiff price;
  price.route = "GET /a<b>";
  price.path = "$.items[*].price";
  price.count = {12, 240, 0, 254, false};
  price.examples.push_back({17, 0, 1, "/a?<q>=1", "9.99", "10.99"});
  FieldDiff stamp;
  stamp.route = "GET /a<b>";
  stamp.path = "$.generated_at";
  stamp.count = {240, 240, 254, 254, true};
  c.fields = {price, stamp};

  StatusChange status;
  status.route = "GET /a<b>";
  status.from = 200;
  status.to = 503;
  status.count = 4;
  status.examples.push_back({21, 0, 0, "/a", "200", "503"});
  StatusChange lost;
  lost.route = "POST /users/{id}";
  lost.from = 201;
  lost.to = 0;
  lost.count = 1;
  lost.noise = true;
  c.statuses = {status, lost};
  ErrorChange timeout;
  timeout.route = "GET /a<b>";
  timeout.from = "none";
  timeout.to = "timeout";
  timeout.count = 1;
  c.errors = {timeout};
  return c;
}

std::vector<GateResult> failing_gate() {
  GateResult latency;
  latency.rule = "p50>+10%";
  latency.failed = true;
  latency.findings = {"GET /a<b>: p50 100ms -> 150ms (+50.0%, CI +20%..+80%)"};
  latency.summary = "worst: GET /a<b> p50 +50.0%";
  GateResult errors;
  errors.rule = "errors>+5pp";
  errors.summary = "worst: +1.56pp";
  return {latency, errors};
}

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size()))
    ++n;
  return n;
}

// The element carrying id="<id>", from its opening tag to the first `close` after it.
std::string element(const std::string& html, const std::string& id, const std::string& close) {
  const auto at = html.find("id=\"" + id + "\"");
  if (at == std::string::npos) return {};
  const auto open = html.rfind('<', at);
  const auto end = html.find(close, at);
  if (end == std::string::npos) return {};
  return html.substr(open, end + close.size() - open);
}

// The row (<tr>...</tr>) of `table` that contains `text`.
std::string row_with(const std::string& table, const std::string& text) {
  const auto at = table.find(text);
  if (at == std::string::npos) return {};
  const auto open = table.rfind("<tr", at);
  const auto end = table.find("</tr>", at);
  if (open == std::string::npos || end == std::string::npos) return {};
  return table.substr(open, end + 5 - open);
}

void require_self_contained(const std::string& html) {
  CHECK(html.rfind("<!doctype html>\n", 0) == 0);
  CHECK(html.find("<meta charset=\"utf-8\">") != std::string::npos);
  CHECK(html.find("<title>") != std::string::npos);
  CHECK(html.size() >= 8);
  CHECK(html.substr(html.size() - 8) == "</html>\n");
  for (const char* banned : {"<script", "http://", "https://", " src=", " href=", "url(", "@import",
                             "<link", "<iframe", "<img", "<object", "<embed"})
    CHECK(html.find(banned) == std::string::npos);
  CHECK_FALSE(std::regex_search(html, std::regex("<[^>]*\\son[a-z]+=")));  // event handlers
  // Crude well-formedness: every element the renderer opens is closed.
  for (const std::string tag : {"section", "table", "tr", "td", "th", "svg", "ul", "li", "code",
                                "span", "div", "g", "text", "title", "p", "h1", "h2", "h3"}) {
    INFO(tag);
    CHECK(occurrences(html, "<" + tag + " ") + occurrences(html, "<" + tag + ">") ==
          occurrences(html, "</" + tag + ">"));
  }
}

}  // namespace

TEST_CASE("report page is one self-contained HTML5 document") {
  const std::string html = render_report_html(make_report());
  require_self_contained(html);
  CHECK(html.find("<title>reprise report: 256 requests</title>") != std::string::npos);
}

TEST_CASE("report page escapes routes, paths and warnings") {
  const std::string html = render_report_html(make_report());
  CHECK(html.find("GET /a&lt;b&gt;") != std::string::npos);
  CHECK(html.find("GET /a<b>") == std::string::npos);
  CHECK(html.find("/tmp/runs/base &lt;1&gt;.reprise") != std::string::npos);
  CHECK(html.find("traces/shop&amp;co.trace") != std::string::npos);
  CHECK(
      element(html, "warnings", "</section>").find("shard 2 of 2 is missing &amp; &lt;late&gt;") !=
      std::string::npos);
}

TEST_CASE("report page highlights an end reason other than completed") {
  Report r = make_report();
  const std::string completed = render_report_html(r);
  CHECK(row_with(element(completed, "summary", "</section>"), "End reason").find("class=\"bad\"") ==
        std::string::npos);
  r.end_reason = "aborted: error rate > 50%";
  const std::string aborted = render_report_html(r);
  const std::string row = row_with(element(aborted, "summary", "</section>"), "End reason");
  CHECK(row.find("<span class=\"bad\">aborted: error rate &gt; 50%</span>") != std::string::npos);
}

TEST_CASE("report page summarises the run") {
  const std::string summary = element(render_report_html(make_report()), "summary", "</section>");
  REQUIRE(!summary.empty());
  CHECK(row_with(summary, "<th>Requests</th>").find("256") != std::string::npos);
  CHECK(row_with(summary, "Duration").find("5.0 s") != std::string::npos);
  CHECK(row_with(summary, "Achieved rate").find("51.0 /s") != std::string::npos);  // 255 sent / 5 s
  CHECK(row_with(summary, "Errors").find("class=\"bad\">5 ") !=
        std::string::npos);  // 4 x 503, 1 timeout
  CHECK(row_with(summary, "Shed").find("class=\"bad\">1 ") != std::string::npos);
  CHECK(row_with(summary, "Started").find("2023-11-14 22:13:20 UTC") != std::string::npos);
}

TEST_CASE("report page plots corrected and service latency by percentile") {
  const std::string html = render_report_html(make_report());
  const std::string plot = element(html, "latency-plot", "</svg>");
  REQUIRE(!plot.empty());
  CHECK(plot.rfind("<svg", 0) == 0);
  CHECK(plot.find("viewBox=\"0 0 720.0 300.0\"") != std::string::npos);
  CHECK(occurrences(plot, "<polyline") == 2);
  CHECK(plot.find(">corrected</text>") != std::string::npos);
  CHECK(plot.find(">service (uncorrected)</text>") != std::string::npos);
  for (const char* tick : {">50%<", ">90%<", ">99%<", ">99.9%<", ">99.99%<"})
    CHECK(plot.find(tick) != std::string::npos);
  // The percentile table beside it.
  const std::string table = element(html, "percentiles", "</table>");
  CHECK(row_with(table, "<th>max</th>").find("200 ms") != std::string::npos);
}

TEST_CASE("report page timeline breaks the latency line at a second without responses") {
  const std::string html = render_report_html(make_report());
  const std::string timeline = element(html, "timeline", "</section>");
  REQUIRE(!timeline.empty());
  const std::string rate = element(timeline, "timeline-rate", "</svg>");
  CHECK(occurrences(rate, "<polyline") == 2);  // requests/s and failed/s (no shed second)
  const std::string latency = element(timeline, "timeline-latency", "</svg>");
  // p99, p50 and max, each in two runs around the empty third second.
  CHECK(occurrences(latency, "<polyline") == 6);
}

TEST_CASE("report page lists routes with their percentiles") {
  const std::string routes = element(render_report_html(make_report()), "routes", "</section>");
  REQUIRE(!routes.empty());
  const auto a = routes.find("GET /a&lt;b&gt;"), users = routes.find("POST /users/{id}");
  REQUIRE(a != std::string::npos);
  REQUIRE(users != std::string::npos);
  CHECK(a < users);  // most requests first, as the report orders them
  const std::string row = row_with(routes, "POST /users/{id}");
  CHECK(occurrences(row, ">10.0 ms<") == 7);  // p50 .. p99.9, max and service p99
  CHECK(row.find(">50<") != std::string::npos);
  CHECK(row.find(">0.00%<") != std::string::npos);
  CHECK(row_with(routes, "GET /a&lt;b&gt;").find("class=\"bad\"") != std::string::npos);
}

TEST_CASE("report page counts status classes and error kinds") {
  const std::string html = render_report_html(make_report());
  const std::string classes = element(html, "status-classes", "</table>");
  CHECK(row_with(classes, "5xx").find(">4 ") != std::string::npos);
  CHECK(row_with(classes, "2xx").find(">250 ") != std::string::npos);
  const std::string errors = element(html, "errors", "</table>");
  CHECK(row_with(errors, "<td>timeout</td>").find(">1 ") != std::string::npos);
  CHECK(row_with(errors, "<td>shed</td>").find("class=\"bad\"") != std::string::npos);
}

// The polyline points of `svg`'s first series, as (x, y) pairs.
std::vector<std::pair<double, double>> first_line(const std::string& svg) {
  std::vector<std::pair<double, double>> points;
  const auto at = svg.find("<polyline points=\"");
  if (at == std::string::npos) return points;
  std::istringstream in(svg.substr(at + 18, svg.find('"', at + 18) - at - 18));
  double x = 0, y = 0;
  char comma = 0;
  while (in >> x >> comma >> y) points.emplace_back(x, y);
  return points;
}

TEST_CASE("a day-long timeline stays small and keeps its spikes") {
  Report r = make_report();
  r.seconds.clear();
  for (int s = 0; s < 86'400; ++s) {
    SecondStats sec;
    sec.start_ns = s * kS;
    sec.outcomes = sec.sent = sec.responses = 100;
    sec.p50_ns = 20 * kMs;
    sec.p99_ns = (s == 40'000 ? 5000 : 100 + s % 7) * kMs;
    sec.max_ns = 6000 * kMs;
    r.seconds.push_back(sec);
  }
  const std::string html = render_report_html(r);
  const std::string latency = element(html, "timeline-latency", "</svg>");
  const auto p99 = first_line(latency);
  REQUIRE(p99.size() > 100);
  CHECK(p99.size() < 4 * 700);  // about four points per pixel column, not 86,400
  CHECK(html.size() < 400'000);
  // The spike is still drawn: the line reaches 5000 ms, the second-highest tick of 0..6000.
  const auto highest = std::min_element(
      p99.begin(), p99.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  const auto rect = latency.find("<rect x=\"64.0\" y=\"");
  REQUIRE(rect != std::string::npos);
  const double top = std::stod(latency.substr(rect + 18));
  const double bottom = top + std::stod(latency.substr(latency.find("height=\"", rect) + 8));
  CHECK(highest->second == Approx(bottom - (bottom - top) * 5000 / 6000).margin(0.1));
  CHECK(latency.find(">time (h)</text>") !=
        std::string::npos);  // the x axis spans the day in hours
  CHECK(latency.find(">20</text>") != std::string::npos);
}

TEST_CASE("an empty report renders without data") {
  const std::string html = render_report_html(Report{});
  require_self_contained(html);
  CHECK(element(html, "latency-plot", "</svg>").find("no data") != std::string::npos);
  CHECK(element(html, "routes", "</section>").find("No requests.") != std::string::npos);
}

TEST_CASE("compare page is one self-contained HTML5 document") {
  require_self_contained(render_compare_html(make_comparison(), failing_gate()));
  require_self_contained(render_compare_html(Comparison{}, {}));
}

TEST_CASE("compare page puts a failed gate and its findings first") {
  const std::string html = render_compare_html(make_comparison(), failing_gate());
  CHECK(html.find("<title>reprise compare: FAIL</title>") != std::string::npos);
  const std::string gate = element(html, "gate", "</section>");
  REQUIRE(!gate.empty());
  CHECK(html.find("id=\"gate\"") < html.find("id=\"summary\""));
  CHECK(gate.find("<span class=\"verdict fail\">FAIL</span>") != std::string::npos);
  CHECK(gate.find("1 of 2 rules failed") != std::string::npos);
  CHECK(gate.find("GET /a&lt;b&gt;: p50 100ms -&gt; 150ms (+50.0%, CI +20%..+80%)") !=
        std::string::npos);
  CHECK(gate.find("<li class=\"rule fail\"><span class=\"tag fail\">FAIL</span> "
                  "<code>p50&gt;+10%</code>") != std::string::npos);
  CHECK(gate.find("<li class=\"rule pass\"><span class=\"tag pass\">PASS</span> "
                  "<code>errors&gt;+5pp</code>") != std::string::npos);
}

TEST_CASE("compare page passes a gate whose rules all pass and says when there are none") {
  auto gate = failing_gate();
  gate[0].failed = false;
  const std::string pass = render_compare_html(make_comparison(), gate);
  CHECK(element(pass, "gate", "</section>").find("<span class=\"verdict pass\">PASS</span>") !=
        std::string::npos);
  const std::string none = render_compare_html(make_comparison(), {});
  CHECK(element(none, "gate", "</section>").find("NO RULES") != std::string::npos);
  CHECK(none.find("FAIL") == std::string::npos);
}

TEST_CASE("compare page shows base and candidate side by side") {
  const std::string summary =
      element(render_compare_html(make_comparison(), {}), "summary", "</section>");
  const std::string files = row_with(summary, "<th>Files</th>");
  CHECK(files.find("base &lt;1&gt;.reprise") < files.find("candidate.reprise"));
  CHECK(row_with(summary, "<th>Paired requests</th>").find("254") != std::string::npos);
  CHECK(row_with(summary, "<th>Candidate unpaired</th>").find(">2<") != std::string::npos);
}

TEST_CASE("compare page overlays base and candidate plots") {
  const std::string html = render_compare_html(make_comparison(), {});
  const std::string plot = element(html, "latency-plot", "</svg>");
  CHECK(occurrences(plot, "<polyline") == 2);
  CHECK(plot.find(">base corrected</text>") != std::string::npos);
  CHECK(plot.find(">candidate corrected</text>") != std::string::npos);
  const std::string rate = element(html, "timeline-rate", "</svg>");
  CHECK(occurrences(rate, "<polyline") == 4);  // requests/s and failed/s of each side
  CHECK(rate.find(">candidate requests/s</text>") != std::string::npos);
  CHECK(element(html, "timeline-latency", "</svg>").find(">base p99</text>") != std::string::npos);
}

TEST_CASE("compare page colours latency deltas by direction") {
  const std::string deltas =
      element(render_compare_html(make_comparison(), {}), "deltas", "</section>");
  REQUIRE(!deltas.empty());
  const std::string table = element(deltas, "latency-deltas", "</table>");
  CHECK(table.find("<td rowspan=\"3\"><code>GET /a&lt;b&gt;</code></td>") != std::string::npos);
  const std::string slower = row_with(table, "<td>p50</td><td class=\"n\">100 ms");
  CHECK(slower.find("<td class=\"n worse\">+50.0%</td>") != std::string::npos);
  CHECK(slower.find("[+20.0%, +80.0%]") != std::string::npos);
  CHECK(slower.find(">150 ms<") != std::string::npos);
  const std::string faster = row_with(table, "<td>p99</td>");
  CHECK(faster.find("<td class=\"n better\">-50.0%</td>") != std::string::npos);
  const std::string same = row_with(table, "<td>p99.9</td>");
  CHECK(same.find("<td class=\"n same\">+1.0%</td>") != std::string::npos);
  CHECK(row_with(table, "POST /users/{id}").find("no latency compared") != std::string::npos);
  const std::string overall = row_with(table, "(all)");
  CHECK(overall.find("+50.0%") != std::string::npos);
  CHECK(row_with(element(deltas, "error-rates", "</table>"), "(all)").find("+1.56 pp") !=
        std::string::npos);
}

TEST_CASE("compare page shows a percentile without an upper bound as open ended") {
  Comparison c = make_comparison();
  QuantileDelta& d = c.routes[0].latency[2];  // p99.9
  d.candidate.bounded = false;
  d.change_high = std::numeric_limits<double>::infinity();
  const std::string row = row_with(render_compare_html(c, {}), "<td>p99.9</td>");
  CHECK(row.find("[-10.0%, +&infin;]") != std::string::npos);
  CHECK(row.find("too few values to bound the candidate from above") != std::string::npos);
}

TEST_CASE("compare page lists status and error changes") {
  const std::string html = render_compare_html(make_comparison(), {});
  const std::string statuses = element(html, "status-changes", "</section>");
  const std::string changed = row_with(statuses, "<td>503</td>");
  CHECK(changed.find("GET /a&lt;b&gt;") != std::string::npos);
  CHECK(changed.find("<td>200</td>") != std::string::npos);
  CHECK(changed.find("exchange 21") != std::string::npos);
  const std::string lost = row_with(statuses, "no response");
  CHECK(lost.rfind("<tr class=\"noise\">", 0) == 0);
  CHECK(lost.find("<span class=\"tag noise\">noise</span>") != std::string::npos);
  const std::string errors = element(html, "error-changes", "</section>");
  CHECK(row_with(errors, "<td>timeout</td>").find("<td>none</td>") != std::string::npos);
}

TEST_CASE("compare page marks noise in field differences") {
  const std::string fields =
      element(render_compare_html(make_comparison(), {}), "fields", "</section>");
  REQUIRE(!fields.empty());
  const std::string price = row_with(fields, "$.items[*].price");
  CHECK(price.rfind("<tr>", 0) == 0);
  CHECK(price.find("<span class=\"tag diff\">difference</span>") != std::string::npos);
  CHECK(price.find("12 / 240") != std::string::npos);
  CHECK(price.find("/a?&lt;q&gt;=1") != std::string::npos);
  CHECK(price.find("9.99</span> &rarr; <span class=\"val\">10.99") != std::string::npos);
  const std::string stamp = row_with(fields, "$.generated_at");
  CHECK(stamp.rfind("<tr class=\"noise\">", 0) == 0);
  CHECK(stamp.find("<span class=\"tag noise\">noise</span>") != std::string::npos);
  CHECK(stamp.find("254 / 254 <span class=\"muted\">(100.00%)</span>") != std::string::npos);
}

TEST_CASE("compare page lists noise sources and every warning") {
  const std::string html = render_compare_html(make_comparison(), {});
  CHECK(element(html, "noise", "</section>").find("second baseline: noise&lt;2&gt;.reprise") !=
        std::string::npos);
  const std::string warnings = element(html, "warnings", "</section>");
  CHECK(warnings.find("3 bodies over the memory limit") != std::string::npos);
  CHECK(warnings.find("base: shard 2 of 2 is missing &amp; &lt;late&gt;") != std::string::npos);
  CHECK(warnings.find("candidate: shard 2 of 2") != std::string::npos);
}

TEST_CASE("example values are made valid UTF-8 and long ones cut") {
  Comparison c = make_comparison();
  c.fields[0].examples[0].base =
      std::string("caf\xc3\xa9 \xff\xfe bell\x07 \xe2\x82");  // é, junk, BEL, cut €
  c.fields[0].examples[0].candidate = std::string(300, 'x') + "\xe2\x82\xac";
  const std::string row =
      row_with(element(render_compare_html(c, {}), "fields", "</section>"), "$.items");
  CHECK(row.find("caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd bell \xef\xbf\xbd\xef\xbf\xbd") !=
        std::string::npos);
  CHECK(row.find('\x07') == std::string::npos);
  CHECK(row.find(std::string(200, 'x') + "&hellip; <span class=\"muted\">(303 bytes)</span>") !=
        std::string::npos);
  CHECK(row.find(std::string(201, 'x')) == std::string::npos);
}
