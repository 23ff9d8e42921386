#include "validator/rewards/weight_publication.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "common/durable_file.h"
#include "common/logging.h"
#include "validator/rewards/weight_sets.h"
#include "validator/tasks/child_process.h"

namespace gradients::validator {
namespace {

// However many attempts are configured, no wait between two is longer than this.
constexpr int64_t kMaxBackoffMs = 300'000;

}  // namespace

common::Result<WeightSetRecord> PublishWeights(CatalogStore& catalog_store, TaskStore& task_store,
                                               EvaluationStore& evaluation_store, WeightSetStore& weight_set_store,
                                               const ScoringOptions& scoring, const WeightPublicationOptions& options,
                                               const std::filesystem::path& weights_file, std::string_view validator_id,
                                               const common::ClockMs& now_ms, const std::atomic<bool>* stop) {
  common::Result<WeightInputs> inputs =
      GatherWeightInputs(catalog_store, task_store, evaluation_store, scoring, now_ms());
  if (!inputs.ok()) return inputs.status();
  common::Result<WeightSetRecord> stored = weight_set_store.AddWeightSet(MakeWeightSet(*inputs));
  if (!stored.ok()) return stored.status();
  WeightSetRecord weight_set = std::move(*stored);
  auto log = common::GetLogger("weights");
  log->info("weight set {}: {} miners over {} tasks (inputs {})", weight_set.id, weight_set.weights.size(),
            inputs->tasks.size(), weight_set.inputs_digest);
  GRADIENTS_RETURN_IF_ERROR(common::WriteFileDurably(weights_file, WeightSetJson(weight_set, validator_id), 0600));
  std::string published_to = "file:" + weights_file.string();
  if (!options.sink_command.empty()) {
    int64_t backoff_ms = options.sink_backoff_ms;
    for (int64_t attempt = 1; attempt <= options.sink_attempts; ++attempt) {
      ChildLimits limits{.memory_bytes = 0, .cpu_seconds = 0, .timeout_ms = options.sink_timeout_ms,
                         .max_stdout_bytes = 1 << 12, .max_stderr_bytes = 1 << 12,
                         .stdin_file = weights_file.string()};
      common::Result<ChildResult> run = RunLimitedChild(options.sink_command, limits, stop);
      if (run.ok() && run->exit_code == 0) {
        published_to += ",command:" + options.sink_command.front();
        break;
      }
      const std::string why = !run.ok() ? run.status().message()
                              : run->timed_out ? "timed out"
                                               : "exit " + std::to_string(run->exit_code) + ": " + run->err_tail;
      log->warn("weight set {}: sink attempt {} of {} failed: {}", weight_set.id, attempt, options.sink_attempts, why);
      if (attempt == options.sink_attempts) break;
      for (int64_t waited = 0; waited < backoff_ms; waited += 100) {
        if (stop != nullptr && *stop) return common::Status::Aborted("stopping");
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      backoff_ms = std::min<int64_t>(backoff_ms * 2, kMaxBackoffMs);
    }
  }
  weight_set.published_to = published_to;
  weight_set.published_at_ms = now_ms();
  GRADIENTS_RETURN_IF_ERROR(
      weight_set_store.MarkWeightSetPublished(weight_set.id, published_to, weight_set.published_at_ms));
  return weight_set;
}

}  // namespace gradients::validator
