#include "miner/offer_loop.h"

#include "common/logging.h"
#include "common/utf8.h"
#include "proto/grpc_status.h"

namespace gradients {
namespace {

constexpr size_t kMaxDeclineDetailBytes = 256;  // the validator's limit (RespondToOfferRequest.detail)

std::optional<v1::TaskType> ParseTaskType(const std::string& name) {
  if (name == "instruct") return v1::TASK_TYPE_INSTRUCT;
  if (name == "chat") return v1::TASK_TYPE_CHAT;
  if (name == "text") return v1::TASK_TYPE_TEXT;
  return std::nullopt;
}

}  // namespace

OfferLoop::OfferLoop(ValidatorConnection& connection, OfferLoopOptions options, OfferLoopHooks hooks, ClockMs now_ms)
    : connection_(connection), options_(std::move(options)), hooks_(std::move(hooks)), now_ms_(std::move(now_ms)) {}

void OfferLoop::Stop() {
  std::lock_guard lock(mutex_);
  stopped_ = true;
  if (stream_context_ != nullptr) stream_context_->TryCancel();
  stopped_changed_.notify_all();
}

void OfferLoop::Run() {
  ReconnectBackoff backoff(options_.reconnect);
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopped_) return;
    }
    if (Subscribe()) backoff.Reset();
    const std::chrono::milliseconds delay = backoff.NextDelay();
    std::unique_lock lock(mutex_);
    if (stopped_changed_.wait_for(lock, delay, [&] { return stopped_; })) return;
  }
}

bool OfferLoop::Subscribe() {
  const std::shared_ptr<spdlog::logger> log = GetLogger("miner");
  // A fresh session for each subscription: the stream carries it like any call, and a validator
  // that restarted, or a session that expired, would refuse the old one.
  if (Status status = connection_.Authenticate(); !status.ok()) {
    log->warn("{}", status.message());  // names the validator's address
    return false;
  }
  v1::SubscribeOffersRequest request;
  v1::MinerCapacity& capacity = *request.mutable_capacity();
  capacity.set_max_model_parameters(static_cast<uint64_t>(options_.capacity.max_model_parameters));
  for (const std::string& type : options_.capacity.task_types) {
    if (std::optional<v1::TaskType> parsed = ParseTaskType(type)) capacity.add_task_types(*parsed);
  }
  capacity.set_device(options_.device.starts_with("cuda") ? v1::DEVICE_KIND_CUDA : v1::DEVICE_KIND_CPU);
  capacity.set_device_count(1);
  capacity.set_max_concurrent_tasks(static_cast<uint32_t>(options_.capacity.max_concurrent_tasks));
  if (options_.measured_tokens_per_second > 0) capacity.set_measured_tokens_per_second(options_.measured_tokens_per_second);

  std::unique_ptr<grpc::ClientContext> context = connection_.SessionContext(std::chrono::hours(24));
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return false;
    stream_context_ = context.get();
  }
  std::unique_ptr<grpc::ClientReader<v1::TaskOffer>> stream = connection_.stub().SubscribeOffers(context.get(), request);
  bool offered = false;
  for (v1::TaskOffer offer; stream->Read(&offer);) {
    offered = true;
    Answer(offer);
  }
  const grpc::Status status = stream->Finish();
  {
    std::lock_guard lock(mutex_);
    stream_context_ = nullptr;
    if (stopped_) return offered;
  }
  log->warn("{}: the offer stream ended: {}", connection_.address(), FromGrpcStatus(status).ToString());
  return offered;
}

void OfferLoop::Answer(const v1::TaskOffer& offer) {
  const std::shared_ptr<spdlog::logger> log = GetLogger("miner");
  const Admission admission = AdmitOffer(offer, options_.capacity, hooks_.active_jobs(), hooks_.model_cached(offer),
                                         options_.throughput, options_.admission, now_ms_());
  v1::RespondToOfferRequest request;
  request.set_task_id(offer.task_id());
  if (admission.accepted()) {
    request.set_decision(v1::OFFER_DECISION_ACCEPT);
  } else {
    request.set_decision(v1::OFFER_DECISION_DECLINE);
    request.set_decline_reason(admission.decline);
    request.set_detail(ToValidUtf8(admission.detail.substr(0, kMaxDeclineDetailBytes)));
  }
  v1::RespondToOfferResponse response;
  const grpc::Status status = connection_.Call([&](grpc::ClientContext& context) {
    response.Clear();
    return connection_.stub().RespondToOffer(&context, request, &response);
  });
  const std::string task = ToValidUtf8(offer.task_id().substr(0, 80));
  if (!admission.accepted()) {
    log->info("task {}: declined ({}): {}", task, v1::DeclineReason_Name(admission.decline), admission.detail);
    if (!status.ok()) log->warn("task {}: the decline was not recorded: {}", task, status.error_message());
    return;
  }
  if (!status.ok()) {  // the pool filled first, the window closed, ...
    log->info("task {}: not claimed: {}", task, status.error_message());
    return;
  }
  log->info("task {}: claimed (estimated {} s of work)", task, admission.estimated_ms / 1000);
  hooks_.on_claim(response.claim());
}

}  // namespace gradients
