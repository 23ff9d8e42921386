// Registering base models and datasets (`gradients model add`, `gradients dataset add`, or the
// validator's config): their files are validated, copied into the blob store, and recorded in the
// store under a content hash, so a task names exactly the bytes miners fetch and the validator
// evaluates against.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "common/status.h"
#include "validator/state/blob_store.h"
#include "validator/state/catalog_store.h"

namespace gradients::validator {

struct RegistryLimits {
  size_t max_model_files = 1000;  // a model directory holds tens; a mistaken path holds thousands
};

// A Hugging Face model directory: config.json (a JSON object) and weights in *.safetensors only
// (each header validated); pickle formats (.bin, .pt, .pth, .pkl, .ckpt) are refused, hidden entries
// (.git, .cache) skipped. The model's hash is the BLAKE2b-256 of its sorted file list (path, size,
// blob). Registering the same content again returns the existing record. An empty `name` stands for
// DefaultContentName(dir); a name must be 1 to 200 bytes of UTF-8.
common::Result<ModelRecord> RegisterModel(CatalogStore& catalog_store, const BlobStore& blobs,
                                          const std::filesystem::path& dir, const std::string& name, int64_t now_ms,
                                          const RegistryLimits& limits = {});

// The name a model directory or dataset file gets when none is given: the directory's name, or the
// file's name without its extension ("data/alpaca.jsonl" -> "alpaca"; a trailing '/' is ignored).
std::string DefaultContentName(const std::filesystem::path& path);

// A JSONL or CSV file (by extension), named by the hash of its bytes; it must be valid UTF-8 and not
// empty. It gets a secret split seed (see DatasetRecord). Its rows are checked when a task splits it.
// An empty `name` stands for DefaultContentName(file).
common::Result<DatasetRecord> RegisterDataset(CatalogStore& catalog_store, const BlobStore& blobs,
                                              const std::filesystem::path& file, const std::string& name,
                                              int64_t now_ms);

}  // namespace gradients::validator
