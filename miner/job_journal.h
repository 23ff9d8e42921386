// A job's persisted state (issue 6, Jobs and Status): <work_dir>/jobs/<validator>/<task_id>/, where
// <validator> is the hex of the issuing validator's id (two validators may use the same task id),
// holds
//   claim.pb   the claim as the validator sent it (what a restarted miner resumes the job from)
//   job.json   the validator it came from, the phase, and what the status command shows: trials,
//              the best validation loss, the current run's step, the deadline
// job.json spells the deadline as deadline_ms (milliseconds since the Unix epoch), and reading one
// whose phase has no known name is an error naming the file and the value.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/enum_names.h"
#include "common/status.h"
#include "miner/job_claim.h"

namespace gradients::miner {

// Where a job stands: fetching, training, uploading (export/ is complete), then submitted or
// failed. A job in one of the first three is resumed when the miner starts again.
enum class JobPhase { kFetching, kTraining, kUploading, kSubmitted, kFailed };
constexpr auto EnumNames(JobPhase) {
  return std::to_array<common::EnumNameEntry<JobPhase>>({{JobPhase::kFetching, "fetching"},
                                                         {JobPhase::kTraining, "training"},
                                                         {JobPhase::kUploading, "uploading"},
                                                         {JobPhase::kSubmitted, "submitted"},
                                                         {JobPhase::kFailed, "failed"}});
}

struct JobStatus {
  std::string task_id;
  std::string validator_id;  // of the validator that issued the claim
  JobPhase phase = JobPhase::kFetching;
  std::string detail;  // why it failed, or a note on the result
  std::chrono::system_clock::time_point deadline;  // the claim's
  std::string strategy;
  int64_t trials_done = 0;
  int64_t trials_planned = 0;
  std::optional<double> best_validation_loss;
  int64_t step = 0;
  int64_t total_steps = 0;
  int64_t tokens_seen = 0;
  double tokens_per_second = 0;  // over the whole search, once done
  std::string receipt_id;
  int64_t updated_ms = 0;

  bool finished() const { return phase == JobPhase::kSubmitted || phase == JobPhase::kFailed; }
};

// A task id the validator sent names a directory: letters, digits, '-', '_' and '.' only, not
// leading with '.'.
common::Status CheckJobTaskId(const std::string& task_id);
std::filesystem::path JobDir(const std::filesystem::path& work_dir, const std::string& validator_id,
                             const std::string& task_id);

// Writes claim.pb and a first job.json (fetching); the claim is validated by its id only.
common::Status RecordNewJob(const std::filesystem::path& job_dir, const JobClaim& claim,
                            const std::string& validator_id, const std::string& strategy);
// As job.json holds it.
nlohmann::json JobStatusJson(const JobStatus& status);
common::Status SaveJobStatus(const std::filesystem::path& job_dir, const JobStatus& status);
common::Result<JobStatus> LoadJobStatus(const std::filesystem::path& job_dir);
common::Result<JobClaim> LoadJobClaim(const std::filesystem::path& job_dir);

// Every job under <work_dir>/jobs; a job.json that cannot be read is reported with its error (the
// claim beside it may still resume the job).
struct JobListing {
  std::filesystem::path dir;
  std::string validator_id;  // from the directory's name
  common::Result<JobStatus> status;
};
std::vector<JobListing> ListJobs(const std::filesystem::path& work_dir);

}  // namespace gradients::miner
