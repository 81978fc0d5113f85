#pragma once
// A directory under $TMPDIR that exists for the lifetime of the object, removed with its contents.

#include <filesystem>
#include <string>

namespace reprise::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace reprise::test
