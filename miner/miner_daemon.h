// The running miner (`gradients-miner`, issue 6): its key, device check and calibration, a
// connection and an offer loop per validator, and a thread per job. A claim is recorded on disk the
// moment it arrives, so that no claim the validator granted is lost to a stop or a crash; jobs left
// unfinished by an earlier run resume at start. Shutdown stops the offers, lets every job
// checkpoint, and leaves their state for the next start.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "miner/blob_cache.h"
#include "miner/job_claim.h"
#include "miner/miner_options.h"
#include "miner/offer_loop.h"
#include "miner/validator_connection.h"

namespace gradients::miner {

class MinerDaemon {
 public:
  // Errors: the key file, a device this machine lacks (`cuda` without a usable GPU), the work
  // directory; validators out of reach are not errors (their loops retry with backoff).
  static common::Result<std::unique_ptr<MinerDaemon>> Start(const MinerOptions& options, common::ClockMs now_ms);
  ~MinerDaemon();

  void Shutdown();

 private:
  struct Validator {
    std::string validator_id;  // as configured: the id its claims are filed under
    std::unique_ptr<ValidatorConnection> connection;
    std::unique_ptr<OfferLoop> offers;
    std::thread thread;
  };
  struct Job {
    std::thread thread;
    bool done = false;
  };

  MinerDaemon(const MinerOptions& options, common::ClockMs now_ms);
  // Records the claim and starts its job (unless stopping: the next start resumes it).
  void TakeClaim(Validator& validator, const JobClaim& claim);
  void StartJob(Validator& validator, const JobClaim& claim);
  void RunJob(Validator& validator, const JobClaim& claim);
  common::Status RunJobUntilDone(Validator& validator, const JobClaim& claim);
  int64_t ActiveJobs() const;
  bool ModelCached(const v1::TaskOffer& offer) const;
  // What earlier jobs on this device reached for a base model of that size (0: none yet).
  double MeasuredTokensPerSecond(int64_t parameters) const;
  // Waits `delay` or until Shutdown; whether it is stopping.
  bool WaitOrStop(std::chrono::milliseconds delay);

  const MinerOptions options_;
  const common::ClockMs now_ms_;
  BlobCache cache_;
  double flops_per_second_ = 0;
  std::atomic<bool> stop_ = false;
  std::vector<std::unique_ptr<Validator>> validators_;
  mutable std::mutex mutex_;  // guards the members below
  std::condition_variable stopping_;
  std::map<std::string, Job> jobs_;  // by job directory; finished ones are joined on the next start
  std::map<std::string, std::vector<v1::BlobRef>> model_files_;  // of the base models claimed, by name
};

}  // namespace gradients::miner
