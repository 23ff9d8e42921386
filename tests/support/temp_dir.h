// A fresh directory under $TMPDIR for one test, removed with everything in it afterwards.
// Tests that include this link gradients_common.
#pragma once

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <filesystem>
#include <string>

#include "common/durable_file.h"

namespace gradients::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "gradients-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
    }
    path_ = pattern;
  }
  ~TempDir() { (void)common::RemoveTree(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace gradients::testing
