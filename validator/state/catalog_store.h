// The catalog: the base models and datasets tasks are made of, each named by a hash of its content.
// One record family of the validator's store (validator/state/store.h: every method is one
// transaction; implementations are safe to call from several threads). Records hold content hashes,
// never file contents: the bytes live in the blob store (validator/state/blob_store.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace gradients::validator {

// A file of a registered model directory (config.json, *.safetensors, tokenizer files...).
struct ModelFile {
  std::string path{};  // relative to the model directory, '/'-separated
  int64_t bytes = 0;
  std::string blob{};  // content hash of its bytes in the blob store
  friend bool operator==(const ModelFile&, const ModelFile&) = default;
};

// A base model: identified by the hash of its file list (names, sizes, blobs).
struct ModelRecord {
  std::string hash{};
  std::string name{};  // operator-chosen, for people; not unique
  std::vector<ModelFile> files{};
  int64_t parameters = 0;  // elements of every tensor in its *.safetensors files
  int64_t added_at_ms = 0;
  // The sum of its files' sizes (what a miner fetches, what checkpoint and evaluation limits scale with).
  int64_t bytes() const {
    int64_t total = 0;
    for (const ModelFile& file : files) total += file.bytes;
    return total;
  }
  friend bool operator==(const ModelRecord&, const ModelRecord&) = default;
};

// A dataset file (JSONL or CSV), identified by the hash of its bytes (its blob).
struct DatasetRecord {
  std::string hash{};
  std::string name{};
  std::string format{};  // "jsonl" or "csv"
  int64_t bytes = 0;
  // Secret, random at registration: decides which rows every task on this dataset holds out. One
  // seed per dataset, not per task: two tasks holding out different rows of the same data would
  // together hand a miner most of each other's test split.
  std::string split_seed{};
  int64_t added_at_ms = 0;
  friend bool operator==(const DatasetRecord&, const DatasetRecord&) = default;
};

class CatalogStore {
 public:
  virtual ~CatalogStore() = default;

  // Registering the same content again is not an error: the first record stays (and is returned
  // by later gets); a different name does not rename it.
  virtual common::Status AddModel(const ModelRecord& model) = 0;
  virtual common::Result<ModelRecord> GetModel(std::string_view hash) = 0;
  virtual common::Result<std::vector<ModelRecord>> ListModels() = 0;
  virtual common::Status AddDataset(const DatasetRecord& dataset) = 0;
  virtual common::Result<DatasetRecord> GetDataset(std::string_view hash) = 0;
  virtual common::Result<std::vector<DatasetRecord>> ListDatasets() = 0;
};

}  // namespace gradients::validator
