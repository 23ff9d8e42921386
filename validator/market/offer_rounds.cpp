#include "validator/market/offer_rounds.h"

#include <algorithm>
#include <map>
#include <string>

#include "common/logging.h"

namespace gradients::validator {

common::Result<std::vector<Offer>> ListOpenOffers(CatalogStore& catalog_store, TaskStore& task_store,
                                                  ClaimStore& claim_store, int64_t now_ms) {
  common::Result<std::vector<TaskRecord>> tasks = task_store.ListTasks(TaskStatus::kOffering);
  if (!tasks.ok()) return tasks.status();
  std::map<std::string, ModelRecord> models;
  std::vector<Offer> offers;
  for (const TaskRecord& task : *tasks) {
    if (now_ms >= task.offer_closes_at_ms) continue;
    auto model = models.find(task.model_hash);
    if (model == models.end()) {
      common::Result<ModelRecord> record = catalog_store.GetModel(task.model_hash);
      if (!record.ok()) return record.status();
      model = models.emplace(task.model_hash, std::move(*record)).first;
    }
    common::Result<std::vector<ClaimRecord>> claims = claim_store.ListClaims(task.id);
    if (!claims.ok()) return claims.status();
    Offer& offer = offers.emplace_back(Offer{.task_id = task.id,
                                             .type = task.type,
                                             .model_name = model->second.name,
                                             .model_parameters = model->second.parameters,
                                             .model_bytes = model->second.bytes(),
                                             .training_bytes = task.train_bytes,
                                             .training_rows = task.train_rows,
                                             .deadline_ms = task.deadline_ms,
                                             .respond_by_ms = task.offer_closes_at_ms,
                                             .max_training_tokens = task.max_training_tokens,
                                             .pool_size = task.pool_size,
                                             .claimants = {}});
    for (const ClaimRecord& claim : *claims) offer.claimants.insert(claim.miner);
  }
  return offers;
}

namespace {

// One task whose window closed: training, another round, or failed.
common::Status CloseOfferWindow(TaskStore& task_store, ClaimStore& claim_store, const OfferOptions& options,
                                const TaskRecord& task, int64_t now_ms) {
  common::Result<std::vector<ClaimRecord>> claims = claim_store.ListClaims(task.id);
  if (!claims.ok()) return claims.status();
  const int64_t accepted = static_cast<int64_t>(claims->size());
  const std::string tally = std::to_string(accepted) + " of the " + std::to_string(task.min_pool_size) +
                            " miners needed accepted";
  auto log = common::GetLogger("validator");
  if (accepted >= task.min_pool_size) {
    GRADIENTS_RETURN_IF_ERROR(
        task_store.TransitionTask(task.id, TaskStatus::kOffering, TaskStatus::kTraining,
                                  "the offer window closed; " + std::to_string(accepted) + " miners train", now_ms));
    log->info("task {}: offering -> training ({} miners)", task.id, accepted);
    return common::Status::Ok();
  }
  if (task.offer_rounds < options.rounds) {
    // Nobody holds a claim yet: the task starts afresh with its whole training time. Claims made
    // already keep the deadline they were given.
    const int64_t deadline_ms = accepted == 0 ? now_ms + task.duration_s * 1000 : task.deadline_ms;
    const int64_t closes_at_ms = std::min(now_ms + options.window_ms, deadline_ms);
    if (closes_at_ms > now_ms) {
      const std::string reason = "offered again (round " + std::to_string(task.offer_rounds + 1) + " of " +
                                 std::to_string(options.rounds) + "): " + tally;
      GRADIENTS_RETURN_IF_ERROR(task_store.ReopenOffers(task.id, closes_at_ms, deadline_ms, reason, now_ms));
      log->info("task {}: {}", task.id, reason);
      return common::Status::Ok();
    }
  }
  const std::string reason = "only " + tally + " in " + std::to_string(task.offer_rounds) + " offer windows";
  GRADIENTS_RETURN_IF_ERROR(
      task_store.TransitionTask(task.id, TaskStatus::kOffering, TaskStatus::kFailed, reason, now_ms));
  log->warn("task {}: offering -> failed: {}", task.id, reason);
  return common::Status::Ok();
}

}  // namespace

common::Status CloseOfferWindows(TaskStore& task_store, ClaimStore& claim_store, const OfferOptions& options,
                                 int64_t now_ms) {
  common::Result<std::vector<TaskRecord>> tasks = task_store.ListTasks(TaskStatus::kOffering);
  if (!tasks.ok()) return tasks.status();
  for (const TaskRecord& task : *tasks) {
    if (now_ms < task.offer_closes_at_ms) continue;
    common::Status closed = CloseOfferWindow(task_store, claim_store, options, task, now_ms);
    // A claim or a cancel got there first: the task is no longer offering, and that is fine.
    if (!closed.ok() && closed.code() != common::StatusCode::kFailedPrecondition) return closed;
  }
  return common::Status::Ok();
}

}  // namespace gradients::validator
