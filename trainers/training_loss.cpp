#include "trainers/training_loss.h"

#include <vector>

#include "trainers/linear_cross_entropy.h"

namespace gradients::train {
namespace {

// A copy of `values` on `device`. To a GPU it goes through pinned memory without blocking: a copy
// from pageable memory would wait for the queued work, a host synchronisation in every step.
at::Tensor DeviceTensor(const std::vector<int64_t>& values, int64_t rows, int64_t columns, const at::Device& device) {
  at::Tensor host = at::from_blob(const_cast<int64_t*>(values.data()), {rows, columns}, at::kLong);
  if (device.is_cuda()) return host.pin_memory().to(device, /*non_blocking=*/true);
  return host.to(device, /*non_blocking=*/false, /*copy=*/true);
}

}  // namespace

at::Tensor TrainingLoss(CausalLm& model, const text::TrainingBatch& batch, double normalizer, bool checkpoint_layers) {
  const at::Device device = model->model->embed_tokens->weight.device();
  ForwardOptions forward;
  if (!batch.position_ids.empty()) {
    forward.position_ids = DeviceTensor(batch.position_ids, batch.rows, batch.columns, device);
    forward.document_ids = DeviceTensor(batch.document_ids, batch.rows, batch.columns, device);
  }
  forward.checkpoint_layers = checkpoint_layers;
  // The positions that predict a label (the next position's), found on the host where the labels
  // are, so the step needs no copy back from the device; the hidden states of the others never
  // reach the output projection.
  std::vector<int64_t> selected, targets;
  for (int64_t row = 0; row < batch.rows; ++row) {
    for (int64_t column = 0; column + 1 < batch.columns; ++column) {
      const int64_t label = batch.labels[static_cast<size_t>(row * batch.columns + column + 1)];
      if (label == text::kIgnoredLabel) continue;
      selected.push_back(row * batch.columns + column);
      targets.push_back(label);
    }
  }
  const auto count = static_cast<int64_t>(selected.size());
  at::Tensor hidden = model->Hidden(DeviceTensor(batch.input_ids, batch.rows, batch.columns, device), forward);
  at::Tensor predicting =
      hidden.view({-1, hidden.size(-1)}).index_select(0, DeviceTensor(selected, 1, count, device).view({count}));
  // Chunks of logits that stay in the CPU's caches; on a GPU, chunks large enough to keep it busy
  // (a 32k vocabulary gives 2048 rows, 256 MiB of float32 logits).
  LinearCrossEntropyOptions loss_options;
  loss_options.chunk_logits = device.is_cuda() ? int64_t{1} << 26 : int64_t{1} << 22;
  return LinearCrossEntropy(predicting, model->OutputWeight(), DeviceTensor(targets, 1, count, device).view({count}),
                            normalizer, loss_options);
}

}  // namespace gradients::train
