#include "miner/miner_daemon.h"

#include <chrono>

#include "common/keys.h"
#include "common/logging.h"
#include "miner/calibration.h"
#include "miner/job_journal.h"
#include "miner/training_job.h"
#include "trainers/compute_device.h"

namespace gradients::miner {
namespace {

constexpr const char* kClientVersion = "gradients-miner/" GRADIENTS_VERSION;

}  // namespace

MinerDaemon::MinerDaemon(const MinerOptions& options, common::ClockMs now_ms)
    : options_(options), now_ms_(std::move(now_ms)), cache_(std::filesystem::path(options.work_dir) / "cache") {}

common::Result<std::unique_ptr<MinerDaemon>> MinerDaemon::Start(const MinerOptions& options, common::ClockMs now_ms) {
  auto logger = common::GetLogger("miner");
  GRADIENTS_ASSIGN_OR_RETURN(common::SigningKey key, common::ReadKeyFile(options.key_file));
  // Before anything is measured or claimed: a GPU named but missing is the operator's to mend.
  if (common::Result<c10::Device> device = train::ResolveComputeDevice(options.device); !device.ok()) {
    return device.status().WithContext("device " + options.device);
  }
  if (options.device == "cpu") train::ConfigureCpuThreads(options.jobs.cpu_threads);
  std::error_code error;
  std::filesystem::create_directories(std::filesystem::path(options.work_dir) / "jobs", error);
  if (error) return common::Status::IoError("creating " + options.work_dir + "/jobs: " + error.message());
  common::Result<train::TrainingSpeed> speed = CalibratedSpeed(options.work_dir, options.device);
  if (!speed.ok()) return speed.status().WithContext("calibration");
  logger->info("miner {} on {}: {:.3g} training FLOP/s (calibration); strategy {}", key.public_key().ToHex(),
               speed->device, speed->flops_per_second, options.strategy.name);

  std::unique_ptr<MinerDaemon> daemon(new MinerDaemon(options, now_ms));
  daemon->flops_per_second_ = speed->flops_per_second;
  for (const ValidatorEndpoint& endpoint : options.validators) {
    auto validator = std::make_unique<Validator>();
    validator->validator_id = endpoint.validator_id;
    GRADIENTS_ASSIGN_OR_RETURN(validator->connection,
                               ValidatorConnection::Open(endpoint, key, kClientVersion, options.reconnect));
    daemon->validators_.push_back(std::move(validator));
  }

  // Jobs an earlier run left unfinished, before new offers are taken (they count against capacity).
  // The claim is what a job resumes from; a job.json that cannot be read is written again.
  for (const JobListing& job : ListJobs(options.work_dir)) {
    if (job.status.ok() && job.status->finished()) continue;
    common::Result<JobClaim> claim = LoadJobClaim(job.dir);
    if (!claim.ok()) {
      logger->warn("{}: not resumed: {}", job.dir.string(), claim.status().message());
      continue;
    }
    bool known = false;
    for (auto& validator : daemon->validators_) {
      if (validator->validator_id != job.validator_id) continue;
      known = true;
      logger->info("task {}: resuming ({})", claim->task_id(),
                   job.status.ok() ? std::string(common::EnumName(job.status->phase)) : job.status.status().message());
      daemon->StartJob(*validator, *claim);
    }
    if (!known) logger->warn("{}: its validator is no longer configured; not resumed", job.dir.string());
  }

  MinerDaemon* self = daemon.get();
  for (auto& validator : daemon->validators_) {
    OfferLoopOptions loop;
    loop.capacity = options.capacity;
    loop.device = options.device;
    loop.throughput.flops_per_second = speed->flops_per_second;
    loop.reconnect = options.reconnect;
    loop.admission.safety_ms = options.jobs.upload_reserve_seconds * 1000;
    OfferLoopHooks hooks;
    hooks.active_jobs = [self] { return self->ActiveJobs(); };
    hooks.model_cached = [self](const v1::TaskOffer& offer) { return self->ModelCached(offer); };
    hooks.flops_per_second = [self](const v1::TaskOffer& offer) {
      const auto parameters = static_cast<int64_t>(std::min<uint64_t>(offer.base_model_parameters(), INT64_MAX));
      const double tokens_per_second = self->MeasuredTokensPerSecond(parameters);
      return 6.0 * static_cast<double>(parameters) * tokens_per_second;
    };
    Validator* raw = validator.get();
    hooks.on_claim = [self, raw](const JobClaim& claim) { self->TakeClaim(*raw, claim); };
    validator->offers = std::make_unique<OfferLoop>(*validator->connection, loop, hooks, now_ms);
    validator->thread = std::thread([raw, logger] {
      try {
        if (common::Status status = raw->offers->Run(); !status.ok()) {
          logger->error("{}: offers stopped: {}", raw->connection->address(), status.message());
        }
      } catch (const std::exception& exception) {
        logger->error("{}: offers stopped: {}", raw->connection->address(), exception.what());
      }
    });
  }
  return daemon;
}

MinerDaemon::~MinerDaemon() { Shutdown(); }

void MinerDaemon::Shutdown() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
    stopping_.notify_all();
  }
  // Every loop told first, then waited for: a claim arriving meanwhile is still recorded (TakeClaim).
  for (auto& validator : validators_) {
    if (validator->offers) validator->offers->Stop();
  }
  for (auto& validator : validators_) {
    if (validator->thread.joinable()) validator->thread.join();
  }
  std::map<std::string, Job> jobs;
  {
    std::lock_guard lock(mutex_);
    jobs.swap(jobs_);
  }
  for (auto& [dir, job] : jobs) {
    if (job.thread.joinable()) job.thread.join();
  }
}

bool MinerDaemon::WaitOrStop(std::chrono::milliseconds delay) {
  std::unique_lock lock(mutex_);
  return stopping_.wait_for(lock, delay, [&] { return stop_.load(); });
}

double MinerDaemon::MeasuredTokensPerSecond(int64_t parameters) const {
  if (parameters < 1) return 0;
  std::lock_guard lock(mutex_);
  return JobTokensPerSecond(options_.work_dir, options_.device, parameters).value_or(0);
}

int64_t MinerDaemon::ActiveJobs() const {
  std::lock_guard lock(mutex_);
  int64_t active = 0;
  for (const auto& [dir, job] : jobs_) active += job.done ? 0 : 1;
  return active;
}

bool MinerDaemon::ModelCached(const v1::TaskOffer& offer) const {
  std::lock_guard lock(mutex_);
  const auto files = model_files_.find(offer.base_model_name());
  if (files == model_files_.end()) return false;
  for (const v1::BlobRef& ref : files->second) {
    if (!cache_.Has(ref)) return false;
  }
  return true;
}

void MinerDaemon::TakeClaim(Validator& validator, const JobClaim& claim) {
  auto logger = common::GetLogger("miner");
  const common::Status checked = CheckJobTaskId(claim.task_id());
  const std::filesystem::path dir = JobDir(options_.work_dir, validator.validator_id, claim.task_id());
  // A job already on disk (a claim granted again) keeps its phase.
  const bool recorded_before = checked.ok() && LoadJobStatus(dir).ok();
  if (common::Status recorded = !checked.ok()     ? checked
                        : recorded_before ? common::Status::Ok()
                                          : RecordNewJob(dir, claim, validator.validator_id, options_.strategy.name);
      !recorded.ok()) {
    logger->error("task {}: the claim cannot be recorded: {}", claim.task_id(), recorded.message());
    return;
  }
  StartJob(validator, claim);
}

void MinerDaemon::StartJob(Validator& validator, const JobClaim& claim) {
  const std::string dir = JobDir(options_.work_dir, validator.validator_id, claim.task_id()).string();
  std::lock_guard lock(mutex_);
  if (stop_) return;  // recorded: the next start resumes it
  // Threads of jobs that ended are joined here rather than kept until shutdown.
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    if (it->second.done) {
      it->second.thread.join();
      it = jobs_.erase(it);
    } else {
      ++it;
    }
  }
  if (jobs_.contains(dir)) return;
  model_files_[claim.task().base_model_name()] = {claim.task().base_model_files().begin(),
                                                  claim.task().base_model_files().end()};
  jobs_[dir].thread = std::thread(&MinerDaemon::RunJob, this, std::ref(validator), claim);
}

void MinerDaemon::RunJob(Validator& validator, const JobClaim& claim) {
  auto logger = common::GetLogger("miner");
  common::Status status = common::Status::Ok();
  try {
    status = RunJobUntilDone(validator, claim);
  } catch (const std::exception& exception) {  // a job's failure never ends the daemon
    status = common::Status::Internal(exception.what());
  }
  if (!status.ok()) logger->error("task {}: {}", claim.task_id(), status.message());
  std::lock_guard lock(mutex_);
  jobs_[JobDir(options_.work_dir, validator.validator_id, claim.task_id()).string()].done = true;
}

common::Status MinerDaemon::RunJobUntilDone(Validator& validator, const JobClaim& claim) {
  auto logger = common::GetLogger("miner");
  const std::string task_id = claim.task_id();
  TrainingJobOptions job;
  job.job_dir = JobDir(options_.work_dir, validator.validator_id, task_id);
  job.validator_id = validator.validator_id;
  job.device = options_.device;
  job.strategy = options_.strategy;
  const auto parameters = static_cast<int64_t>(std::min<uint64_t>(claim.task().base_model_parameters(), INT64_MAX));
  job.estimated_tokens_per_second = MeasuredTokensPerSecond(parameters);
  if (job.estimated_tokens_per_second == 0 && parameters > 0) {
    job.estimated_tokens_per_second = flops_per_second_ / (6.0 * static_cast<double>(parameters));
  }
  job.upload_reserve = std::chrono::seconds(options_.jobs.upload_reserve_seconds);
  job.checkpoint_every_steps = options_.jobs.checkpoint_every_steps;
  job.progress_interval_ms = options_.jobs.progress_interval_seconds * 1000;
  job.cpu_threads = options_.jobs.cpu_threads;
  job.upload = options_.upload;
  job.stop = &stop_;

  // What waiting may cure is tried again while the deadline allows; anything else ends the job.
  std::chrono::milliseconds wait(1000);
  for (;;) {
    common::Result<JobStatus> result = RunTrainingJob(*validator.connection, cache_, claim, job, now_ms_);
    if (result.ok()) {
      logger->info("task {}: {}", task_id, common::EnumName(result->phase));
      if (result->tokens_per_second > 0 && parameters > 0) {
        std::lock_guard lock(mutex_);  // one writer of calibration.json at a time
        RecordJobSpeed(options_.work_dir, options_.device, parameters, result->tokens_per_second);
      }
      return common::Status::Ok();
    }
    if (stop_ && result.status().code() == common::StatusCode::kAborted) {
      logger->info("task {}: stopped; its state is kept for the next start", task_id);
      return common::Status::Ok();
    }
    if (!KeepsJobPhase(result.status().code())) return result.status();  // the job recorded it as failed
    if (common::TimePointOfMs(now_ms_()) + wait >= claim.deadline) {
      common::Result<JobStatus> status = LoadJobStatus(job.job_dir);
      if (status.ok()) {
        status->phase = JobPhase::kFailed;
        status->detail = "the validator stayed out of reach until the deadline: " + result.status().message();
        status->updated_ms = now_ms_();
        GRADIENTS_RETURN_IF_ERROR(SaveJobStatus(job.job_dir, *status));
      }
      return result.status();
    }
    logger->warn("{}; trying again in {} s", result.status().message(), wait.count() / 1000);
    if (WaitOrStop(wait)) return common::Status::Ok();
    wait = std::min<std::chrono::milliseconds>(wait * 2, std::chrono::seconds(30));
  }
}

}  // namespace gradients::miner
