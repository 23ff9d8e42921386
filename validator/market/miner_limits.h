// Per-miner limits of the MinerGateway (DESIGN.md, Protocol): a token bucket on every authenticated
// call, and a cap on the streams (blob fetches, uploads) one miner holds open at once, so that no
// miner can take the validator's threads, disk bandwidth or attention from the others. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "common/status.h"

namespace gradients::validator {

struct MinerLimitOptions {
  double requests_per_second = 20;  // refilled continuously...
  double request_burst = 60;        // ...up to this many calls at once
  int64_t max_streams = 4;          // FetchBlob and UploadCheckpoint streams open at once
};

class MinerLimits {
 public:
  explicit MinerLimits(MinerLimitOptions options) : options_(options) {}

  // ResourceExhausted when the miner's bucket is empty.
  common::Status Admit(const std::string& miner, int64_t now_ms);

  // Holds one of the miner's stream slots until destroyed.
  class StreamSlot {
   public:
    StreamSlot(StreamSlot&& other) noexcept : limits_(other.limits_), miner_(std::move(other.miner_)) {
      other.limits_ = nullptr;
    }
    StreamSlot(const StreamSlot&) = delete;
    StreamSlot& operator=(const StreamSlot&) = delete;
    StreamSlot& operator=(StreamSlot&&) = delete;
    ~StreamSlot();

   private:
    friend class MinerLimits;
    StreamSlot(MinerLimits* limits, std::string miner) : limits_(limits), miner_(std::move(miner)) {}
    MinerLimits* limits_;
    std::string miner_;
  };
  // ResourceExhausted when the miner holds max_streams already.
  common::Result<StreamSlot> OpenStream(const std::string& miner);

 private:
  struct Bucket {
    double tokens = 0;
    int64_t updated_ms = 0;
  };
  const MinerLimitOptions options_;
  std::mutex mutex_;
  std::map<std::string, Bucket> buckets_;
  std::map<std::string, int64_t> streams_;
  int64_t admitted_ = 0;  // calls since buckets were last pruned
};

}  // namespace gradients::validator
