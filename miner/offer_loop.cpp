#include "miner/offer_loop.h"

#include "common/logging.h"
#include "common/utf8.h"
#include "proto/grpc_status.h"
#include "proto/task_types.h"

namespace gradients::miner {
namespace {

constexpr size_t kMaxDeclineDetailBytes = 256;  // the validator's limit (RespondToOfferRequest.detail)

// The longest prefix of valid UTF-8 `text` within `max_bytes` that does not cut a character.
std::string Utf8Prefix(const std::string& text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;  // a continuation byte
  return text.substr(0, end);
}

}  // namespace

OfferLoop::OfferLoop(ValidatorConnection& connection, OfferLoopOptions options, OfferLoopHooks hooks, common::ClockMs now_ms)
    : connection_(connection), options_(std::move(options)), hooks_(std::move(hooks)), now_ms_(std::move(now_ms)) {}

void OfferLoop::Stop() {
  std::lock_guard lock(mutex_);
  stopped_ = true;
  if (stream_context_ != nullptr) stream_context_->TryCancel();
  stopped_changed_.notify_all();
}

common::Status OfferLoop::Run() {
  ReconnectBackoff backoff(options_.reconnect);
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopped_) return common::Status::Ok();
    }
    common::Result<bool> offered = Subscribe();
    if (!offered.ok()) return offered.status();
    if (*offered) backoff.Reset();
    const std::chrono::milliseconds delay = backoff.NextDelay();
    std::unique_lock lock(mutex_);
    if (stopped_changed_.wait_for(lock, delay, [&] { return stopped_; })) return common::Status::Ok();
  }
}

common::Result<bool> OfferLoop::Subscribe() {
  const std::shared_ptr<spdlog::logger> log = common::GetLogger("miner");
  if (common::Status status = connection_.EnsureSession(); !status.ok()) {
    log->warn("{}", status.message());  // names the validator's address
    return false;
  }
  v1::SubscribeOffersRequest request;
  v1::MinerCapacity& capacity = *request.mutable_capacity();
  capacity.set_max_model_parameters(static_cast<uint64_t>(options_.capacity.max_model_parameters));
  for (const std::string& type : options_.capacity.task_types) {
    if (v1::TaskType parsed = proto::ToProtoType(type); parsed != v1::TASK_TYPE_UNSPECIFIED) capacity.add_task_types(parsed);
  }
  capacity.set_device(options_.device.starts_with("cuda") ? v1::DEVICE_KIND_CUDA : v1::DEVICE_KIND_CPU);
  capacity.set_device_count(1);
  capacity.set_max_concurrent_tasks(static_cast<uint32_t>(options_.capacity.max_concurrent_tasks));
  if (options_.measured_tokens_per_second > 0)
    capacity.set_measured_tokens_per_second(options_.measured_tokens_per_second);

  const std::string token = connection_.Token();
  std::unique_ptr<grpc::ClientContext> context = ValidatorConnection::ContextWith(token, std::chrono::hours(24));
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return false;
    stream_context_ = context.get();
  }
  std::unique_ptr<grpc::ClientReader<v1::TaskOffer>> stream =
      connection_.stub().SubscribeOffers(context.get(), request);
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
  log->warn("{}: the offer stream ended: {}", connection_.address(), proto::FromGrpcStatus(status).ToString());
  switch (status.error_code()) {
    case grpc::StatusCode::UNAUTHENTICATED:  // the validator restarted, or the session expired
      if (common::Status renewed = connection_.Renew(token); !renewed.ok()) log->warn("{}", renewed.message());
      break;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::PERMISSION_DENIED:
      return proto::FromGrpcStatus(status).WithContext(connection_.address() + ": SubscribeOffers");
    default:
      break;
  }
  return offered;
}

void OfferLoop::Answer(const v1::TaskOffer& offer) {
  const std::shared_ptr<spdlog::logger> log = common::GetLogger("miner");
  ThroughputEstimate throughput = options_.throughput;
  if (const double measured = hooks_.flops_per_second(offer); measured > 0) throughput.flops_per_second = measured;
  const Admission admission = AdmitOffer(offer, options_.capacity, hooks_.active_jobs(), hooks_.model_cached(offer),
                                         throughput, options_.admission, now_ms_());
  v1::RespondToOfferRequest request;
  request.set_task_id(offer.task_id());
  if (admission.accepted()) {
    std::lock_guard lock(mutex_);
    if (stopped_) return;  // no claim after Stop: nobody would work on it
    request.set_decision(v1::OFFER_DECISION_ACCEPT);
  } else {
    request.set_decision(v1::OFFER_DECISION_DECLINE);
    request.set_decline_reason(admission.decline);
    request.set_detail(Utf8Prefix(common::ToValidUtf8(admission.detail), kMaxDeclineDetailBytes));
  }
  v1::RespondToOfferResponse response;
  const grpc::Status status = connection_.Call([&](grpc::ClientContext& context) {
    response.Clear();
    return connection_.stub().RespondToOffer(&context, request, &response);
  });
  const std::string task = common::ToValidUtf8(offer.task_id().substr(0, 80));
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
  hooks_.on_claim(ToJobClaim(response.claim()));
}

}  // namespace gradients::miner
