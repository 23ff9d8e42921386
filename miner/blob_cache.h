// What a miner fetches from validators by content hash (DESIGN.md, Miner): base model files and
// training splits, kept in one directory as <hash> so that a model shared by many tasks is fetched
// once. A fetch writes <hash>.part, resumes from its end after an interruption, checks every chunk
// against the blob's declared size and the whole against its BLAKE2b digest (the validator is
// trusted no more than the network), and only then renames it into place.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/status.h"
#include "gradients/v1/common.pb.h"
#include "miner/validator_connection.h"

namespace gradients::miner {

// Concurrent jobs share one cache: fetches of the same blob take turns (they would write the same part
// file), the second finding the blob stored. One process per cache directory.
class BlobCache {
 public:
  explicit BlobCache(std::filesystem::path dir) : dir_(std::move(dir)) {}

  // Where the blob is (or would be) kept; InvalidArgument for a digest that is not BLAKE2b-256.
  common::Result<std::filesystem::path> PathOf(const v1::BlobRef& ref) const;
  // Whether it is stored complete (by size: what is stored was verified when it arrived).
  bool Has(const v1::BlobRef& ref) const;
  // The blob's path, fetched through `connection` first when it is not stored. DataLoss when what
  // arrives does not match the reference (its part is discarded, so the next fetch starts over).
  common::Result<std::filesystem::path> Fetch(ValidatorConnection& connection, const v1::BlobRef& ref) const;

 private:
  // The lock of one blob's fetch.
  std::shared_ptr<std::mutex> FetchLock(const std::filesystem::path& path) const;

  std::filesystem::path dir_;
  mutable std::mutex locks_mutex_;
  mutable std::map<std::string, std::shared_ptr<std::mutex>> locks_;  // by blob path
};

}  // namespace gradients::miner
