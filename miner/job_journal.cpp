#include "miner/job_journal.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <span>

#include "common/clock.h"
#include "common/config.h"
#include "common/durable_file.h"
#include "common/hex.h"

namespace gradients::miner {
namespace {

constexpr uint64_t kMaxClaimBytes = 16 << 20;

}  // namespace

common::Status CheckJobTaskId(const std::string& task_id) {
  const bool safe = !task_id.empty() && task_id.size() <= 128 && task_id[0] != '.' &&
                    std::all_of(task_id.begin(), task_id.end(), [](char c) {
                      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                             c == '_' || c == '.';
                    });
  if (!safe) return common::Status::InvalidArgument("task id \"" + task_id + "\" cannot name a job directory");
  return common::Status::Ok();
}

std::filesystem::path JobDir(const std::filesystem::path& work_dir, const std::string& validator_id,
                             const std::string& task_id) {
  const std::span<const uint8_t> id(reinterpret_cast<const uint8_t*>(validator_id.data()), validator_id.size());
  return work_dir / "jobs" / common::ToHex(id) / task_id;
}

common::Status RecordNewJob(const std::filesystem::path& job_dir, const JobClaim& claim,
                            const std::string& validator_id, const std::string& strategy) {
  std::error_code error;
  std::filesystem::create_directories(job_dir, error);
  if (error) return common::Status::IoError("creating " + job_dir.string() + ": " + error.message());
  GRADIENTS_RETURN_IF_ERROR(common::WriteFileDurably(job_dir / "claim.pb", claim.message.SerializeAsString(), 0600));
  JobStatus status;
  status.task_id = claim.task_id();
  status.validator_id = validator_id;
  status.phase = JobPhase::kFetching;
  status.deadline = claim.deadline;
  status.strategy = strategy;
  return SaveJobStatus(job_dir, status);
}

nlohmann::json JobStatusJson(const JobStatus& status) {
  nlohmann::json json = {{"task_id", status.task_id},
                         {"validator_id", status.validator_id},
                         {"phase", common::EnumName(status.phase)},
                         {"detail", status.detail},
                         {"deadline_ms", common::MsOfTimePoint(status.deadline)},
                         {"strategy", status.strategy},
                         {"trials_done", status.trials_done},
                         {"trials_planned", status.trials_planned},
                         {"best_validation_loss", nullptr},
                         {"step", status.step},
                         {"total_steps", status.total_steps},
                         {"tokens_seen", status.tokens_seen},
                         {"tokens_per_second", status.tokens_per_second},
                         {"receipt_id", status.receipt_id},
                         {"updated_ms", status.updated_ms}};
  if (status.best_validation_loss) json["best_validation_loss"] = *status.best_validation_loss;
  return json;
}

common::Status SaveJobStatus(const std::filesystem::path& job_dir, const JobStatus& status) {
  return common::WriteFileDurably(job_dir / "job.json", JobStatusJson(status).dump(1) + "\n");
}

common::Result<JobStatus> LoadJobStatus(const std::filesystem::path& job_dir) {
  const std::filesystem::path path = job_dir / "job.json";
  GRADIENTS_ASSIGN_OR_RETURN(nlohmann::json json, common::ReadJsonFile(path));
  JobStatus status;
  try {
    status.task_id = json.at("task_id").get<std::string>();
    status.validator_id = json.at("validator_id").get<std::string>();
    common::Result<JobPhase> phase = common::ParseEnum<JobPhase>(json.at("phase").get<std::string>());
    if (!phase.ok()) return common::Status::DataLoss(path.string() + ": phase: " + phase.status().message());
    status.phase = *phase;
    status.detail = json.at("detail").get<std::string>();
    status.deadline = common::TimePointOfMs(json.at("deadline_ms").get<int64_t>());
    status.strategy = json.at("strategy").get<std::string>();
    status.trials_done = json.at("trials_done").get<int64_t>();
    status.trials_planned = json.at("trials_planned").get<int64_t>();
    if (!json.at("best_validation_loss").is_null()) {
      status.best_validation_loss = json.at("best_validation_loss").get<double>();
    }
    status.step = json.at("step").get<int64_t>();
    status.total_steps = json.at("total_steps").get<int64_t>();
    status.tokens_seen = json.at("tokens_seen").get<int64_t>();
    status.tokens_per_second = json.at("tokens_per_second").get<double>();
    status.receipt_id = json.at("receipt_id").get<std::string>();
    status.updated_ms = json.at("updated_ms").get<int64_t>();
  } catch (const nlohmann::json::exception& error) {
    return common::Status::DataLoss(path.string() + ": " + error.what());
  }
  return status;
}

common::Result<JobClaim> LoadJobClaim(const std::filesystem::path& job_dir) {
  GRADIENTS_ASSIGN_OR_RETURN(std::string bytes, common::ReadFileToString(job_dir / "claim.pb", kMaxClaimBytes));
  v1::Claim claim;
  if (!claim.ParseFromString(bytes) || claim.task_id().empty()) {
    return common::Status::DataLoss((job_dir / "claim.pb").string() + ": not a claim");
  }
  return ToJobClaim(std::move(claim));
}

std::vector<JobListing> ListJobs(const std::filesystem::path& work_dir) {
  std::vector<JobListing> jobs;
  std::error_code error;
  // error_code overloads throughout: a directory that vanishes or cannot be read is skipped.
  for (std::filesystem::directory_iterator validator(work_dir / "jobs", error), end; !error && validator != end;
       validator.increment(error)) {
    std::error_code inner;
    common::Result<std::vector<uint8_t>> id = common::FromHex(validator->path().filename().string());
    if (!id.ok() || !validator->is_directory(inner)) continue;  // not a validator's directory
    for (std::filesystem::directory_iterator job(validator->path(), inner); !inner && job != end;
         job.increment(inner)) {
      std::error_code kind;
      if (!job->is_directory(kind)) continue;
      jobs.push_back({.dir = job->path(),
                      .validator_id = std::string(id->begin(), id->end()),
                      .status = LoadJobStatus(job->path())});
    }
  }
  std::sort(jobs.begin(), jobs.end(), [](const JobListing& a, const JobListing& b) { return a.dir < b.dir; });
  return jobs;
}

}  // namespace gradients::miner
