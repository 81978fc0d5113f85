#pragma once
// The capture library's one error enum (std::error_code). Per-packet anomalies are not errors:
// they are counters in CaptureStats and flags on exchanges. These are for whole-input failures.

#include <system_error>

#include "reprise/result.hpp"

namespace reprise::capture {

enum class errc {
  ok = 0,
  unsupported_link_type,  // a pcap link type the decoder does not know
  bad_option,             // an option value out of range (bad regex, zero limit)
  source_error,           // the packet source failed (pcap file unreadable, read error)
  output_error,           // the trace writer failed
  listen_failed,          // the proxy cannot listen on its address (in use, not local)
  interface_failed,       // a live interface cannot be opened (no such device, no permission)
};

const std::error_category& category();
std::error_code make_error_code(errc e);
Error fail(errc code, std::string where, std::string detail);

}  // namespace reprise::capture

template <>
struct std::is_error_code_enum<reprise::capture::errc> : std::true_type {};
