// Who is offered which task, and when (DESIGN.md, Protocol; MinerGateway.SubscribeOffers). Miners
// subscribe with their capacity; each task that is offering goes to the connected miners it fits,
// in waves: miners that have not competed recently first, in random order, then the others. A
// wave holds twice as many miners as the pool has open places; the next wave follows after an
// interval, or at once for each miner that declines. A new offer window (a task nobody took in
// time) starts the waves again. Thread-safe; free of gRPC (the stream is an OfferSink).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "validator/state/claim_store.h"

namespace gradients::validator {

struct OfferOptions {
  int64_t window_ms = 300'000;  // an offer stays open this long (or until the pool is full)
  int64_t rounds = 3;           // offer windows a task gets before it fails for want of miners
  int64_t wave_interval_ms = 10'000;
  // A miner that claimed a task within this time has "competed recently" and is offered later.
  int64_t recent_ms = 86'400'000;
};

// What a miner declared it can take on (MinerCapacity).
struct OfferCapacity {
  int64_t max_model_parameters = 0;
  std::set<std::string> task_types{};  // "instruct", "chat", ...
  int64_t max_concurrent_tasks = 1;
};

// A task's offer: what a miner decides on (TaskOffer), and who holds a claim already.
struct Offer {
  std::string task_id{};
  std::string type{};
  std::string model_name{};
  int64_t model_parameters = 0;
  int64_t model_bytes = 0;
  int64_t training_bytes = 0;
  int64_t training_rows = 0;
  int64_t deadline_ms = 0;
  int64_t respond_by_ms = 0;  // the end of the offer window: a new value is a new window
  int64_t max_training_tokens = 0;
  int64_t pool_size = 0;
  std::set<std::string> claimants{};  // miners (hex) with a claim on it
  friend bool operator==(const Offer&, const Offer&) = default;
};

// One miner's offer stream. The board calls it under its own lock and never after Unsubscribe
// returned, so an implementation must not call back into the board from these methods.
class OfferSink {
 public:
  virtual ~OfferSink() = default;
  virtual void Send(const Offer& offer) = 0;
  // Ends the stream (a newer subscription replaced it; the validator stops).
  virtual void End(const common::Status& why) = 0;
};

class OfferBoard {
 public:
  explicit OfferBoard(OfferOptions options, uint64_t seed = std::random_device{}());

  // Registers a miner's stream; an earlier stream of the same miner is ended with Aborted. The new
  // stream gets at once the open offers the miner had already been offered (the old stream may
  // have lost them) and those whose waves have reached everyone; it joins the line of the others.
  // A miner that fits an offer only later (it finished another task) joins its line then.
  // Unavailable once EndAll ran (the sink is not called then).
  common::Result<uint64_t> Subscribe(const std::string& miner, OfferCapacity capacity, OfferSink* sink);
  // Idempotent; after it returns the sink is never called again.
  void Unsubscribe(uint64_t id);
  // The tasks offering now with their claims, and every miner's claims: offers new tasks, starts
  // the waves of new windows, sends the waves that are due, forgets closed offers.
  void Update(const std::vector<Offer>& open, const std::vector<MinerClaims>& claims, int64_t now_ms);
  // A miner it was offered to said no (the first time): the next one in line gets it now.
  void Declined(const std::string& task_id, const std::string& miner);
  // Ends every stream (the validator stops); later subscriptions are refused.
  void EndAll(const common::Status& why);
  size_t connected() const;
  uint64_t offers_sent() const { return offers_sent_; }
  bool IsConnected(const std::string& miner) const;

 private:
  struct Subscriber {
    std::string miner;
    OfferCapacity capacity;
    OfferSink* sink;
  };
  struct OpenOffer {
    Offer offer;
    std::vector<std::string> order;  // miners in the order they get it
    size_t next = 0;                 // order[next] is the next to get it
    std::set<std::string> in_line;   // those in `order` from `next` on
    std::set<std::string> offered;   // this window; a miner that subscribes again gets it again
    std::set<std::string> declined;  // a decline counts once
    int64_t next_wave_at_ms = 0;
  };
  bool Fits(const Subscriber& subscriber, const Offer& offer) const;
  std::vector<std::string> Order(const Offer& offer, int64_t now_ms);
  // Sends the offer to up to `count` more miners in line; returns how many got it.
  size_t SendWave(OpenOffer& open, size_t count);
  const Subscriber* Find(const std::string& miner) const;

  const OfferOptions options_;
  std::atomic<uint64_t> offers_sent_{0};
  mutable std::mutex mutex_;
  std::mt19937_64 random_;
  bool ended_ = false;
  common::Status end_reason_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, Subscriber> subscribers_;
  std::map<std::string, uint64_t> by_miner_;
  std::map<std::string, MinerClaims> claims_;  // by miner
  std::map<std::string, OpenOffer> offers_;    // by task id
};

}  // namespace gradients::validator
