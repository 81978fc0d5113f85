#include "cli_support.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "reprise/capture/error.hpp"
#include "reprise/format/error.hpp"
#include "reprise/replay/error.hpp"
#include "reprise/report/error.hpp"

namespace reprise::tools {

int exit_code_for(const Error& error) {
  if (error.code == format::make_error_code(format::errc::output_error) ||
      error.code == capture::make_error_code(capture::errc::output_error) ||
      error.code == capture::make_error_code(capture::errc::listen_failed) ||
      error.code == capture::make_error_code(capture::errc::interface_failed))
    return kExitEnvironment;
  if (error.code == replay::make_error_code(replay::errc::resolve_failed) ||
      error.code == replay::make_error_code(replay::errc::listen_failed) ||
      error.code == replay::make_error_code(replay::errc::output_error) ||
      error.code == replay::make_error_code(replay::errc::system_resource) ||
      error.code == report::make_error_code(report::errc::output_error))
    return kExitEnvironment;
  return kExitBadInput;
}

int report(const Error& error) {
  std::fprintf(stderr, "reprise: %s\n", error.message().c_str());
  return exit_code_for(error);
}

void warn(const std::string& message) { std::fprintf(stderr, "reprise: %s\n", message.c_str()); }

Status write_stdout(std::string_view text) {
  if (std::fwrite(text.data(), 1, text.size(), stdout) == text.size()) return {};
  return format::fail(format::errc::output_error, "<stdout>", std::strerror(errno));
}

Status write_text_file(const std::string& path, std::string_view text) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return format::fail(format::errc::output_error, path, std::strerror(errno));
  const bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  const int saved = errno;
  if (std::fclose(f) != 0 || !written)
    return format::fail(format::errc::output_error, path, std::strerror(written ? errno : saved));
  return {};
}

Status flush_stdout() {
  if (std::fflush(stdout) == 0 && std::ferror(stdout) == 0) return {};
  return format::fail(format::errc::output_error, "<stdout>", std::strerror(errno));
}

}  // namespace reprise::tools
