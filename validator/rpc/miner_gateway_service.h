// The MinerGateway gRPC service (proto/gradients/v1/miner_gateway.proto): thin handlers that check
// each request's shape, delegate to the validator's services and return precise status codes.
// Serves every call of the service. Every call but the first two needs a session:
// the token from Authenticate in the metadata "gradients-session".
#pragma once

#include <cstdint>

#include "common/clock.h"
#include "gradients/v1/miner_gateway.grpc.pb.h"
#include "validator/market/checkpoint_uploads.h"
#include "validator/market/miner_auth.h"
#include "validator/market/miner_limits.h"
#include "validator/market/offer_board.h"
#include "validator/state/blob_store.h"
#include "validator/state/catalog_store.h"
#include "validator/state/claim_store.h"
#include "validator/state/evaluation_store.h"
#include "validator/state/submission_store.h"
#include "validator/state/task_store.h"

namespace gradients::validator {

// SubscribeOffers is served by gRPC's callback API: an open offer stream holds no thread, so a
// validator keeps thousands of miners connected. The other calls are synchronous.
class MinerGatewayService final
    : public v1::MinerGateway::WithCallbackMethod_SubscribeOffers<v1::MinerGateway::Service> {
 public:
  MinerGatewayService(MinerAuthenticator& auth, CatalogStore& catalog_store, TaskStore& task_store,
                      ClaimStore& claim_store, SubmissionStore& submission_store, EvaluationStore& evaluation_store,
                      const BlobStore& blobs, CheckpointUploads& uploads, OfferBoard& offers, common::ClockMs now_ms,
                      MinerLimitOptions limits = {})
      : auth_(auth),
        catalog_store_(catalog_store),
        task_store_(task_store),
        claim_store_(claim_store),
        submission_store_(submission_store),
        evaluation_store_(evaluation_store),
        blobs_(blobs),
        uploads_(uploads),
        offers_(offers),
        now_ms_(std::move(now_ms)),
        limits_(limits) {}

  grpc::Status GetChallenge(grpc::ServerContext* context, const v1::GetChallengeRequest* request,
                            v1::GetChallengeResponse* response) override;
  grpc::Status Authenticate(grpc::ServerContext* context, const v1::AuthenticateRequest* request,
                            v1::AuthenticateResponse* response) override;
  grpc::ServerWriteReactor<v1::TaskOffer>* SubscribeOffers(grpc::CallbackServerContext* context,
                                                           const v1::SubscribeOffersRequest* request) override;
  grpc::Status RespondToOffer(grpc::ServerContext* context, const v1::RespondToOfferRequest* request,
                              v1::RespondToOfferResponse* response) override;
  grpc::Status FetchBlob(grpc::ServerContext* context, const v1::FetchBlobRequest* request,
                         grpc::ServerWriter<v1::BlobChunk>* writer) override;
  grpc::Status ReportProgress(grpc::ServerContext* context, const v1::ReportProgressRequest* request,
                              v1::ReportProgressResponse* response) override;
  grpc::Status UploadCheckpoint(grpc::ServerContext* context, grpc::ServerReader<v1::UploadMessage>* reader,
                                v1::UploadReceipt* receipt) override;
  grpc::Status GetUploadStatus(grpc::ServerContext* context, const v1::GetUploadStatusRequest* request,
                               v1::GetUploadStatusResponse* response) override;
  grpc::Status GetMyResults(grpc::ServerContext* context, const v1::GetMyResultsRequest* request,
                            v1::GetMyResultsResponse* response) override;

 private:
  // The miner whose session token the call carries; Unauthenticated without a valid one,
  // ResourceExhausted past the miner's rate limit.
  common::Result<common::PublicKey> SessionMiner(const grpc::ServerContextBase& context);

  MinerAuthenticator& auth_;
  CatalogStore& catalog_store_;
  TaskStore& task_store_;
  ClaimStore& claim_store_;
  SubmissionStore& submission_store_;
  EvaluationStore& evaluation_store_;
  const BlobStore& blobs_;
  CheckpointUploads& uploads_;
  OfferBoard& offers_;
  common::ClockMs now_ms_;
  MinerLimits limits_;
};

}  // namespace gradients::validator
