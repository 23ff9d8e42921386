// One claimed task from its claim to its receipt (issue 6, Jobs): fetch the base model and the
// training split into the blob cache, lay out the model directory, tokenize the split as the
// task's type and columns say, run the strategy's search until it is done or the time the upload
// needs before the deadline has come, export the result and upload it signed, reporting progress to
// the validator and to job.json (miner/job_journal.h) on the way. Run again on the same job
// directory, it resumes: the search from its trials and checkpoints, the upload from what the
// validator holds. No libtorch types here.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "miner/blob_cache.h"
#include "miner/checkpoint_upload.h"
#include "miner/job_claim.h"
#include "miner/job_journal.h"
#include "miner/search_strategy.h"
#include "miner/validator_connection.h"

namespace gradients::miner {

struct TrainingJobOptions {
  std::filesystem::path job_dir;  // this task's own: claim.pb, job.json, model/, data/, search/, export/
  std::string validator_id;       // as configured, for job.json (empty: the session's)
  std::string device = "cpu";
  StrategyOptions strategy{};
  // Training tokens per second the search assumes until its first trial measured it (0: unknown).
  double estimated_tokens_per_second = 0;
  // Training stops this long before the deadline: the upload and a margin.
  std::chrono::milliseconds upload_reserve{60'000};
  int64_t checkpoint_every_steps = 10;  // a killed miner loses at most this many steps of a run
  int64_t progress_interval_ms = 5000;  // to the validator and job.json
  int cpu_threads = 0;
  UploadOptions upload{};  // its `stop` is this job's
  // Shutdown: training checkpoints and the job returns ABORTED with its state kept for a resume.
  const std::atomic<bool>* stop = nullptr;
};

// Failures that keep a job's phase, so that running it again resumes it: stopped (ABORTED), or the
// validator out of reach, slow or busy (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED).
bool KeepsJobPhase(common::StatusCode code);

// The job's status as it ends; on error, the status says why, and the job is failed unless the
// failure KeepsJobPhase. `now_ms` is the one clock of the job: job.json's times, the search's and
// its training runs' deadline, the upload's envelope.
common::Result<JobStatus> RunTrainingJob(ValidatorConnection& connection, const BlobCache& cache, const JobClaim& claim,
                                         const TrainingJobOptions& options, common::ClockMs now_ms);

}  // namespace gradients::miner
