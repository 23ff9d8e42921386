// The validator's data directory (DESIGN.md, State): state.db (the SQLite store) and blobs/ (the
// content-addressed files). It holds the hidden test splits and their seeds, so it is created
// private to its owner (mode 0700). Several processes may open it at once (the daemon and
// `gradients model add`, say): SQLite serialises their writes.
#pragma once

#include <filesystem>
#include <memory>

#include "common/status.h"
#include "validator/state/blob_store.h"
#include "validator/state/sqlite_store.h"

namespace gradients::validator {

struct DataDirectory {
  std::filesystem::path root;
  std::unique_ptr<SqliteStore> store;
  std::unique_ptr<BlobStore> blobs;
};

// Opens the directory, creating it (and its parents) if needed; an existing one that group or
// others may access is refused (PermissionDenied, with the chmod that mends it).
common::Result<DataDirectory> OpenDataDirectory(const std::filesystem::path& root);

}  // namespace gradients::validator
