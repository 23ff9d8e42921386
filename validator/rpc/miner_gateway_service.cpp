#include "validator/rpc/miner_gateway_service.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <tuple>

#include <google/protobuf/util/json_util.h>

#include "common/hex.h"
#include "common/logging.h"
#include "common/utf8.h"
#include "proto/checkpoint_messages.h"
#include "proto/grpc_status.h"
#include "proto/timestamps.h"
#include "validator/market/claim_outcomes.h"
#include "validator/rpc/page_tokens.h"
#include "validator/tasks/task_spec.h"

namespace gradients::validator {
namespace {

constexpr size_t kMaxTaskIdBytes = 64;
constexpr size_t kMaxDeclineDetailBytes = 256;
constexpr size_t kMaxClientVersionBytes = 64;
constexpr size_t kMaxStrategyBytes = 64;
constexpr int kMaxHyperparameters = 32;
constexpr size_t kMaxHyperparameterKeyBytes = 64;
constexpr size_t kMaxHyperparameterValueBytes = 128;
// ReportProgress: at most one report per task per miner this often (miner_gateway.proto).
constexpr int64_t kProgressIntervalMs = 1000;

std::span<const uint8_t> Bytes(const std::string& bytes) {
  return {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()};
}

// Task ids are the validator's: printable ASCII (common.proto), so one that is not names no task,
// and error messages that quote it stay printable.
common::Status CheckTaskId(const std::string& task_id) {
  const bool printable = std::all_of(task_id.begin(), task_id.end(), [](char c) { return c > 0x20 && c < 0x7f; });
  if (task_id.empty() || task_id.size() > kMaxTaskIdBytes || !printable) {
    return common::Status::InvalidArgument("task_id: 1 to " + std::to_string(kMaxTaskIdBytes) + " printable ASCII bytes");
  }
  return common::Status::Ok();
}

// The status a miner gets: the validator's own failures (storage, bugs) are logged in full and
// reported without their details, which name files and paths on the validator's host.
grpc::Status Reply(const common::Status& status) {
  switch (status.code()) {
    case common::StatusCode::kIoError:
    case common::StatusCode::kInternal:
    case common::StatusCode::kDataLoss:
      common::GetLogger("gateway")->error("{}", status.ToString());
      return grpc::Status(grpc::StatusCode::INTERNAL, "the validator failed to serve this call (logged there)");
    default: return proto::ToGrpcStatus(status);
  }
}

// gRPC's peer string without the port ("ipv4:10.0.0.7:51234" -> "ipv4:10.0.0.7"): one address
// may open many connections.
std::string PeerHost(const std::string& peer) {
  const size_t colon = peer.rfind(':');
  return colon == std::string::npos || colon < peer.find(':') + 1 ? peer : peer.substr(0, colon);
}

// A progress report's fields within the protocol's limits, losses finite.
common::Status CheckProgress(const v1::TrainingProgress& progress) {
  for (const auto& [name, has, value] : {std::tuple{"train_loss", progress.has_train_loss(), progress.train_loss()},
                                         std::tuple{"validation_loss", progress.has_validation_loss(),
                                                    progress.validation_loss()}}) {
    if (has && !std::isfinite(value)) return common::Status::InvalidArgument(std::string("progress.") + name + ": not finite");
  }
  if (progress.message().size() > v1::LIMIT_MAX_PROGRESS_MESSAGE_BYTES) {
    return common::Status::InvalidArgument("progress.message: over " + std::to_string(v1::LIMIT_MAX_PROGRESS_MESSAGE_BYTES) +
                                   " bytes");
  }
  const v1::TrialInfo& trial = progress.trial();
  if (trial.strategy().size() > kMaxStrategyBytes) {
    return common::Status::InvalidArgument("progress.trial.strategy: over " + std::to_string(kMaxStrategyBytes) + " bytes");
  }
  if (trial.hyperparameters_size() > kMaxHyperparameters) {
    return common::Status::InvalidArgument("progress.trial.hyperparameters: over " + std::to_string(kMaxHyperparameters) +
                                   " entries");
  }
  for (const auto& [key, value] : trial.hyperparameters()) {
    if (key.size() > kMaxHyperparameterKeyBytes || value.size() > kMaxHyperparameterValueBytes) {
      return common::Status::InvalidArgument("progress.trial.hyperparameters: keys at most " +
                                     std::to_string(kMaxHyperparameterKeyBytes) + " bytes, values at most " +
                                     std::to_string(kMaxHyperparameterValueBytes));
    }
  }
  return common::Status::Ok();
}

// Offers a miner has not read yet; beyond this the stream ends (the miner resubscribes and gets
// the open offers again).
constexpr size_t kMaxUnreadOffers = 1024;

// One miner's SubscribeOffers stream: offers from the board are queued and written one at a time
// (the callback API allows one write in flight).
class OfferStream final : public grpc::ServerWriteReactor<v1::TaskOffer>, public OfferSink {
 public:
  explicit OfferStream(OfferBoard& board) : board_(board) {}

  // Called by the handler before it returns the stream to gRPC, so before OnDone can run.
  void Subscribed(uint64_t id) { id_ = id; }

  void Send(const Offer& offer) override {
    std::lock_guard lock(mutex_);
    if (finishing_) return;
    if (unread_.size() >= kMaxUnreadOffers) {
      FinishLocked(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "too many unread offers; subscribe again"));
      return;
    }
    v1::TaskOffer& message = unread_.emplace_back();
    message.set_task_id(offer.task_id);
    message.set_type(proto::ToProtoType(offer.type));
    message.set_base_model_name(common::ToValidUtf8(offer.model_name));
    message.set_base_model_parameters(static_cast<uint64_t>(offer.model_parameters));
    message.set_base_model_size_bytes(static_cast<uint64_t>(offer.model_bytes));
    message.set_training_split_size_bytes(static_cast<uint64_t>(offer.training_bytes));
    message.set_training_rows(static_cast<uint64_t>(offer.training_rows));
    proto::SetTimestampMs(offer.deadline_ms, message.mutable_deadline());
    proto::SetTimestampMs(offer.respond_by_ms, message.mutable_respond_by());
    if (offer.max_training_tokens > 0) message.set_max_training_tokens(static_cast<uint64_t>(offer.max_training_tokens));
    if (!writing_) {
      writing_ = true;
      StartWrite(&unread_.front());
    }
  }
  void End(const common::Status& why) override {
    std::lock_guard lock(mutex_);
    FinishLocked(Reply(why));
  }
  void FinishNow(const grpc::Status& status) {
    std::lock_guard lock(mutex_);
    FinishLocked(status);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mutex_);
    unread_.pop_front();
    writing_ = false;
    if (finishing_) {
      Finish(finish_status_);  // deferred until the write in flight was done (whether it went out or not)
    } else if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the offer stream broke"));
    } else if (!unread_.empty()) {
      writing_ = true;
      StartWrite(&unread_.front());
    }
  }
  void OnCancel() override { FinishNow(grpc::Status(grpc::StatusCode::CANCELLED, "the miner went away")); }
  void OnDone() override {
    if (id_ != 0) board_.Unsubscribe(id_);
    delete this;
  }

 private:
  // Finishes once; a write in flight is let complete first (OnWriteDone finishes then).
  void FinishLocked(const grpc::Status& status) {
    if (finishing_) return;
    finishing_ = true;
    finish_status_ = status;
    if (!writing_) Finish(status);
  }

  OfferBoard& board_;
  uint64_t id_ = 0;
  std::mutex mutex_;
  std::deque<v1::TaskOffer> unread_;  // front() is being written while writing_
  bool writing_ = false, finishing_ = false;
  grpc::Status finish_status_;
};

// The declared capacity, checked (miner.proto, MinerCapacity).
common::Result<OfferCapacity> ReadCapacity(const v1::MinerCapacity& capacity) {
  if (capacity.max_model_parameters() == 0 || capacity.max_model_parameters() > static_cast<uint64_t>(INT64_MAX)) {
    return common::Status::InvalidArgument("capacity.max_model_parameters: must be positive");
  }
  if (capacity.device() != v1::DEVICE_KIND_CPU && capacity.device() != v1::DEVICE_KIND_CUDA) {
    return common::Status::InvalidArgument("capacity.device: required");
  }
  if (capacity.max_concurrent_tasks() == 0) {
    return common::Status::InvalidArgument("capacity.max_concurrent_tasks: at least 1");
  }
  if (capacity.device_name().size() > 128) return common::Status::InvalidArgument("capacity.device_name: over 128 bytes");
  if (capacity.task_types_size() == 0) return common::Status::InvalidArgument("capacity.task_types: at least one");
  OfferCapacity out{.max_model_parameters = static_cast<int64_t>(capacity.max_model_parameters()),
                    .task_types = {},
                    .max_concurrent_tasks = capacity.max_concurrent_tasks()};
  for (int type : capacity.task_types()) {
    const std::string_view name = proto::TaskTypeName(static_cast<v1::TaskType>(type));
    if (name.empty()) return common::Status::InvalidArgument("capacity.task_types: unknown type " + std::to_string(type));
    if (!out.task_types.emplace(name).second) {
      return common::Status::InvalidArgument("capacity.task_types: " + std::string(name) + " listed twice");
    }
  }
  return out;
}

void FillReceipt(const SubmissionRecord& submission, uint64_t bytes_received, v1::UploadReceipt* receipt) {
  receipt->set_task_id(submission.task_id);
  (void)SetDigest(submission.manifest_digest, receipt->mutable_manifest_digest());
  proto::SetTimestampMs(submission.received_at_ms, receipt->mutable_received_at());
  receipt->set_receipt_id(submission.receipt_id);
  receipt->set_bytes_received(bytes_received);
  receipt->set_file_count(static_cast<uint32_t>(submission.manifest.files.size()));
}

}  // namespace

grpc::Status MinerGatewayService::GetChallenge(grpc::ServerContext* context, const v1::GetChallengeRequest* request,
                                               v1::GetChallengeResponse* response) {
  common::Result<common::PublicKey> miner = common::PublicKey::FromBytes(Bytes(request->miner_public_key()));
  if (!miner.ok()) return Reply(miner.status().WithContext("miner_public_key"));
  common::Result<AuthChallenge> challenge = auth_.IssueChallenge(*miner, PeerHost(context->peer()), now_ms_());
  if (!challenge.ok()) return Reply(challenge.status());
  response->set_nonce(challenge->nonce.data(), challenge->nonce.size());
  proto::SetTimestampMs(challenge->expires_at_ms, response->mutable_expires_at());
  response->set_validator_id(auth_.validator_id());
  return grpc::Status::OK;
}

grpc::Status MinerGatewayService::Authenticate(grpc::ServerContext*, const v1::AuthenticateRequest* request,
                                               v1::AuthenticateResponse* response) {
  if (request->client_version().size() > kMaxClientVersionBytes) {
    return Reply(common::Status::InvalidArgument("client_version exceeds " + std::to_string(kMaxClientVersionBytes) +
                                                " bytes"));
  }
  common::Result<common::SignedEnvelope> proof = proto::FromProto(request->proof());
  if (!proof.ok()) return Reply(proof.status().WithContext("proof"));
  common::Result<MinerSession> session = auth_.Authenticate(*proof, now_ms_());
  if (!session.ok()) return Reply(session.status());
  response->set_session_token(session->token);
  proto::SetTimestampMs(session->expires_at_ms, response->mutable_expires_at());
  // For the operator's list of miners; a failure here costs the miner nothing.
  if (common::Status seen = claim_store_.RecordMinerSeen(session->miner.ToHex(),
                                                         common::ToValidUtf8(request->client_version()), "", now_ms_());
      !seen.ok()) {
    common::GetLogger("gateway")->warn("recording miner {}: {}", session->miner.ToHex(), seen.message());
  }
  // The version is the miner's text: escaped and bounded before it reaches a log line.
  common::GetLogger("gateway")->info("miner {} authenticated ({})", session->miner.ToHex(),
                             common::ToValidUtf8(request->client_version()));
  return grpc::Status::OK;
}

common::Result<common::PublicKey> MinerGatewayService::SessionMiner(const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  auto found = metadata.find("gradients-session");
  if (found == metadata.end()) return common::Status::Unauthenticated("no session: authenticate first");
  common::Result<common::PublicKey> miner = auth_.SessionMiner(std::string_view(found->second.data(), found->second.size()), now_ms_());
  if (!miner.ok()) return miner.status();
  GRADIENTS_RETURN_IF_ERROR(limits_.Admit(miner->ToHex(), now_ms_()));
  return miner;
}

grpc::ServerWriteReactor<v1::TaskOffer>* MinerGatewayService::SubscribeOffers(grpc::CallbackServerContext* context,
                                                                              const v1::SubscribeOffersRequest* request) {
  auto* stream = new OfferStream(offers_);
  common::Result<common::PublicKey> miner = SessionMiner(*context);
  if (!miner.ok()) {
    stream->FinishNow(Reply(miner.status()));
    return stream;
  }
  common::Result<OfferCapacity> capacity = ReadCapacity(request->capacity());
  if (!capacity.ok()) {
    stream->FinishNow(Reply(capacity.status()));
    return stream;
  }
  std::string declared;
  if (google::protobuf::util::MessageToJsonString(request->capacity(), &declared).ok()) {
    if (common::Status seen = claim_store_.RecordMinerSeen(miner->ToHex(), "", declared, now_ms_()); !seen.ok()) {
      common::GetLogger("gateway")->warn("recording miner {}: {}", miner->ToHex(), seen.message());
    }
  }
  common::Result<uint64_t> id = offers_.Subscribe(miner->ToHex(), std::move(*capacity), stream);
  if (!id.ok()) {
    stream->FinishNow(Reply(id.status()));
    return stream;
  }
  stream->Subscribed(*id);
  return stream;
}

grpc::Status MinerGatewayService::RespondToOffer(grpc::ServerContext* context, const v1::RespondToOfferRequest* request,
                                                 v1::RespondToOfferResponse* response) {
  common::Result<common::PublicKey> miner = SessionMiner(*context);
  if (!miner.ok()) return Reply(miner.status());
  if (common::Status status = CheckTaskId(request->task_id()); !status.ok()) return Reply(status);
  if (request->detail().size() > kMaxDeclineDetailBytes) {
    return Reply(common::Status::InvalidArgument("detail: at most " + std::to_string(kMaxDeclineDetailBytes) + " bytes"));
  }
  const int64_t now = now_ms_();
  if (request->decision() == v1::OFFER_DECISION_DECLINE) {
    if (request->decline_reason() == v1::DECLINE_REASON_UNSPECIFIED) {
      return Reply(common::Status::InvalidArgument("decline_reason: required with DECLINE"));
    }
    common::Status recorded = claim_store_.RecordDecline(request->task_id(), miner->ToHex(),
                                                         v1::DeclineReason_Name(request->decline_reason()),
                                                         common::ToValidUtf8(request->detail()), now);
    if (recorded.ok()) offers_.Declined(request->task_id(), miner->ToHex());
    return Reply(recorded);
  }
  if (request->decision() != v1::OFFER_DECISION_ACCEPT) return Reply(common::Status::InvalidArgument("decision: required"));
  if (request->decline_reason() != v1::DECLINE_REASON_UNSPECIFIED) {
    return Reply(common::Status::InvalidArgument("decline_reason: must be unset with ACCEPT"));
  }
  std::array<uint8_t, common::kNonceBytes> nonce{};
  common::FillRandom(nonce);
  common::Result<ClaimRecord> claim =
      claim_store_.ClaimTask(request->task_id(), miner->ToHex(), common::ToHex(nonce), now);
  if (!claim.ok()) return Reply(claim.status());
  common::Result<TaskRecord> task = task_store_.GetTask(claim->task_id);
  if (!task.ok()) return Reply(task.status());
  common::Result<std::vector<uint8_t>> claim_nonce = common::FromHex(claim->nonce);
  if (!claim_nonce.ok()) return Reply(common::Status::DataLoss("stored claim nonce: " + claim_nonce.status().message()));
  v1::Claim* out = response->mutable_claim();
  out->set_task_id(claim->task_id);
  out->set_claim_nonce(claim_nonce->data(), claim_nonce->size());
  proto::SetTimestampMs(task->deadline_ms, out->mutable_deadline());
  common::Result<ModelRecord> model = catalog_store_.GetModel(task->model_hash);
  if (!model.ok()) return Reply(model.status());
  common::Result<DatasetRecord> dataset = catalog_store_.GetDataset(task->dataset_hash);
  if (!dataset.ok()) return Reply(dataset.status());
  if (common::Status status = FillTaskSpec(*task, *model, *dataset, out->mutable_task()); !status.ok()) {
    return Reply(status);
  }
  common::GetLogger("gateway")->info("miner {} claimed task {}", miner->ToHex(), claim->task_id);
  return grpc::Status::OK;
}

grpc::Status MinerGatewayService::FetchBlob(grpc::ServerContext* context, const v1::FetchBlobRequest* request,
                                            grpc::ServerWriter<v1::BlobChunk>* writer) {
  common::Result<common::PublicKey> miner = SessionMiner(*context);
  if (!miner.ok()) return Reply(miner.status());
  common::Result<std::pair<common::DigestAlgorithm, common::Digest>> digest = proto::FromProto(request->digest());
  if (!digest.ok()) return Reply(digest.status());
  if (digest->first != common::DigestAlgorithm::kBlake2b256) {
    return Reply(common::Status::InvalidArgument("digest: blobs are named by BLAKE2b-256"));
  }
  const std::string hash = common::ToHex(digest->second);
  common::Result<MinerLimits::StreamSlot> slot = limits_.OpenStream(miner->ToHex());
  if (!slot.ok()) return Reply(slot.status());
  // Permission first: a miner learns nothing about blobs outside its claims, not even whether
  // they exist (the hidden test splits are blobs too).
  common::Result<bool> allowed = claim_store_.MayFetchBlob(miner->ToHex(), hash);
  if (!allowed.ok()) return Reply(allowed.status());
  if (!*allowed) return Reply(common::Status::PermissionDenied("blob " + hash + " is not a file of a task you claimed"));
  common::Result<uint64_t> size = blobs_.Size(hash);
  if (!size.ok()) return Reply(size.status());
  const uint64_t offset = request->offset();
  if (offset > *size) {
    return Reply(common::Status::OutOfRange("offset " + std::to_string(offset) + " passes the end of blob " + hash +
                                           " (" + std::to_string(*size) + " bytes)"));
  }
  uint64_t end = *size;
  if (request->has_length()) {
    if (request->length() > *size - offset) {
      return Reply(common::Status::OutOfRange("offset + length passes the end of blob " + hash + " (" +
                                             std::to_string(*size) + " bytes)"));
    }
    end = offset + request->length();
  }
  v1::BlobChunk chunk;
  chunk.set_blob_size_bytes(*size);
  for (uint64_t position = offset; position < end;) {
    if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "the fetch was cancelled");
    common::Result<std::string> data = blobs_.Read(hash, position, std::min<uint64_t>(v1::LIMIT_MAX_CHUNK_BYTES, end - position));
    if (!data.ok()) return Reply(data.status());
    if (data->empty()) return Reply(common::Status::DataLoss("blob " + hash + " is shorter than its recorded size"));
    chunk.set_offset(position);
    position += data->size();
    chunk.set_data(std::move(*data));
    if (!writer->Write(chunk)) return grpc::Status(grpc::StatusCode::CANCELLED, "the miner went away");
  }
  return grpc::Status::OK;
}

grpc::Status MinerGatewayService::ReportProgress(grpc::ServerContext* context, const v1::ReportProgressRequest* request,
                                                 v1::ReportProgressResponse* response) {
  common::Result<common::PublicKey> miner = SessionMiner(*context);
  if (!miner.ok()) return Reply(miner.status());
  if (common::Status status = CheckTaskId(request->task_id()); !status.ok()) return Reply(status);
  if (!request->has_progress()) return Reply(common::Status::InvalidArgument("progress: required"));
  if (common::Status status = CheckProgress(request->progress()); !status.ok()) return Reply(status);
  common::Result<TaskRecord> task = task_store_.GetTask(request->task_id());
  if (!task.ok()) return Reply(task.status());
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(request->progress(), &json).ok()) {
    return Reply(common::Status::InvalidArgument("progress: not representable"));
  }
  common::Status recorded = claim_store_.RecordProgress(task->id, miner->ToHex(), json, now_ms_(), kProgressIntervalMs);
  if (recorded.code() == common::StatusCode::kNotFound) {
    return Reply(common::Status::PermissionDenied("task " + task->id + ": you hold no claim on it"));
  }
  if (!recorded.ok()) return Reply(recorded);
  response->set_task_status(ToProtoStatus(task->status));
  return grpc::Status::OK;
}

grpc::Status MinerGatewayService::UploadCheckpoint(grpc::ServerContext* context,
                                                   grpc::ServerReader<v1::UploadMessage>* reader,
                                                   v1::UploadReceipt* receipt) {
  common::Result<common::PublicKey> miner = SessionMiner(*context);
  if (!miner.ok()) return Reply(miner.status());
  common::Result<MinerLimits::StreamSlot> slot = limits_.OpenStream(miner->ToHex());
  if (!slot.ok()) return Reply(slot.status());
  v1::UploadMessage message;
  if (!reader->Read(&message) || !message.has_begin()) {
    return Reply(common::Status::InvalidArgument("an upload starts with UploadBegin"));
  }
  const v1::UploadBegin& begin = message.begin();
  if (common::Status status = CheckTaskId(begin.task_id()); !status.ok()) return Reply(status);
  if (begin.claim_nonce().size() != common::kNonceBytes) {
    return Reply(common::Status::InvalidArgument("claim_nonce: expected " + std::to_string(common::kNonceBytes) + " bytes"));
  }
  common::Result<common::CheckpointManifest> manifest = proto::FromProto(begin.manifest());
  if (!manifest.ok()) return Reply(manifest.status());
  const std::string task_id = begin.task_id();
  common::Result<std::unique_ptr<UploadStream>> stream =
      uploads_.Begin(*miner, task_id, Bytes(begin.claim_nonce()), *manifest, begin.resume());
  if (!stream.ok()) return Reply(stream.status());
  while (reader->Read(&message)) {
    if (message.has_chunk()) {
      const v1::FileChunk& chunk = message.chunk();
      common::Status appended = (*stream)->Append(chunk.file_index(), chunk.offset(),
                                          std::move(*message.mutable_chunk()->mutable_data()));
      if (!appended.ok()) return Reply(appended);  // what arrived before stays for a resume
      continue;
    }
    if (message.has_begin()) return Reply(common::Status::InvalidArgument("a second UploadBegin in one upload"));
    if (!message.has_end()) return Reply(common::Status::InvalidArgument("an upload message with nothing set"));
    common::Result<common::SignedEnvelope> envelope = proto::FromProto(message.end().envelope());
    if (!envelope.ok()) return Reply(envelope.status().WithContext("envelope"));
    common::Result<SubmissionRecord> submission = (*stream)->Finish(*envelope);
    if (!submission.ok()) return Reply(submission.status());
    FillReceipt(*submission, (*stream)->bytes_received(), receipt);
    common::GetLogger("gateway")->info("miner {} uploaded checkpoint {} to task {} ({} files)", miner->ToHex(),
                               submission->receipt_id, task_id, submission->manifest.files.size());
    return grpc::Status::OK;
  }
  return Reply(common::Status::InvalidArgument(
      "the upload ended without UploadEnd; what arrived is kept: resume after GetUploadStatus"));
}

grpc::Status MinerGatewayService::GetUploadStatus(grpc::ServerContext* context,
                                                  const v1::GetUploadStatusRequest* request,
                                                  v1::GetUploadStatusResponse* response) {
  common::Result<common::PublicKey> miner = SessionMiner(*context);
  if (!miner.ok()) return Reply(miner.status());
  if (common::Status status = CheckTaskId(request->task_id()); !status.ok()) return Reply(status);
  common::Result<UploadProgress> progress = uploads_.Progress(*miner, request->task_id());
  if (!progress.ok()) return Reply(progress.status());
  switch (progress->state) {
    case UploadState::kNone: response->set_state(v1::UPLOAD_STATE_NONE); break;
    case UploadState::kPartial:
      response->set_state(v1::UPLOAD_STATE_PARTIAL);
      proto::ToProto(common::DigestAlgorithm::kBlake2b256, common::CheckpointManifestDigest(progress->partial->manifest),
              response->mutable_manifest_digest());
      for (uint64_t offset : progress->partial->durable_offsets) response->add_durable_offsets(offset);
      break;
    case UploadState::kComplete:
      response->set_state(v1::UPLOAD_STATE_COMPLETE);
      if (common::Status status = SetDigest(progress->submission->manifest_digest, response->mutable_manifest_digest());
          !status.ok()) {
        return Reply(status);
      }
      for (const common::CheckpointFileEntry& file : progress->submission->manifest.files) {
        response->add_durable_offsets(file.size_bytes);
      }
      FillReceipt(*progress->submission, common::CheckpointBytes(progress->submission->manifest), response->mutable_receipt());
      break;
  }
  return grpc::Status::OK;
}

grpc::Status MinerGatewayService::GetMyResults(grpc::ServerContext* context, const v1::GetMyResultsRequest* request,
                                               v1::GetMyResultsResponse* response) {
  common::Result<common::PublicKey> miner = SessionMiner(*context);
  if (!miner.ok()) return Reply(miner.status());
  common::Result<int64_t> requested_size = PageSize(request->page_size());
  if (!requested_size.ok()) return Reply(requested_size.status());
  const int64_t page_size = *requested_size;
  if (request->has_task_id()) {
    if (common::Status status = CheckTaskId(request->task_id()); !status.ok()) return Reply(status);
  }
  common::Result<int64_t> before_token = ParseNumberPageToken(request->page_token());
  if (!before_token.ok()) return Reply(before_token.status());
  const int64_t before = *before_token;
  common::Result<std::vector<ClaimRecord>> claims = claim_store_.ListClaimsOfMiner(
      miner->ToHex(), request->has_task_id() ? request->task_id() : "", before, page_size + 1);
  if (!claims.ok()) return Reply(claims.status());
  for (size_t i = 0; i < claims->size() && static_cast<int64_t>(i) < page_size; ++i) {
    common::Result<TaskRecord> task = task_store_.GetTask((*claims)[i].task_id);
    if (!task.ok()) return Reply(task.status());
    common::Result<ClaimOutcome> outcome = GetClaimOutcome(submission_store_, evaluation_store_, (*claims)[i]);
    if (!outcome.ok()) return Reply(outcome.status());
    if (common::Status status = FillMinerResult(*outcome, *task, response->add_results()); !status.ok()) return Reply(status);
  }
  if (static_cast<int64_t>(claims->size()) > page_size) {
    response->set_next_page_token(std::to_string((*claims)[static_cast<size_t>(page_size) - 1].sequence));
  }
  return grpc::Status::OK;
}

}  // namespace gradients::validator
