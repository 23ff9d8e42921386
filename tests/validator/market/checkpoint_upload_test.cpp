// What a claimant does after its claim, over the real MinerGateway: fetch the task's blobs, report
// progress, upload its checkpoint (and resume an interrupted upload); and what the validator
// refuses, each refusal with its reason, while honest miners are unaffected.
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include <gtest/gtest.h>

#include "common/clock.h"
#include "common/hex.h"
#include "tests/validator/gateway_fixture.h"
#include "validator/state/blob_retention.h"

namespace gradients::validator {
namespace {

// How many of the first `bytes` of the file are in the page cache, in pages; nullopt on tmpfs,
// where the page cache is the only copy.
std::optional<size_t> CachedPages(const std::filesystem::path& path, size_t bytes) {
  struct statfs filesystem {};
  if (statfs(path.c_str(), &filesystem) != 0 || filesystem.f_type == TMPFS_MAGIC) return std::nullopt;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  void* mapping = mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (mapping == MAP_FAILED) return std::nullopt;
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> resident((bytes + page - 1) / page);
  size_t cached = 0;
  if (mincore(mapping, bytes, resident.data()) == 0) {
    for (unsigned char flags : resident) cached += flags & 1;
  }
  munmap(mapping, bytes);
  return cached;
}

class ClaimedTask : public MinerGatewayFixture {
 protected:
  void SetUp() override {
    MinerGatewayFixture::SetUp();
    AddOfferingTask("t1");
    honest_ = NewMiner("t1");
  }
  // The whole blob through FetchBlob, chunk by chunk; the status of the stream.
  grpc::Status Fetch(const TestMiner& miner, const std::string& hash, uint64_t offset, std::optional<uint64_t> length,
                     std::string* data, std::vector<v1::BlobChunk>* chunks = nullptr) {
    v1::FetchBlobRequest request;
    request.mutable_digest()->set_algorithm(v1::DIGEST_ALGORITHM_BLAKE2B_256);
    const std::vector<uint8_t> bytes = *common::FromHex(hash);
    request.mutable_digest()->set_value(std::string(bytes.begin(), bytes.end()));
    request.set_offset(offset);
    if (length) request.set_length(*length);
    std::unique_ptr<grpc::ClientContext> context = SessionContext(miner);
    std::unique_ptr<grpc::ClientReader<v1::BlobChunk>> reader = stub_->FetchBlob(context.get(), request);
    v1::BlobChunk chunk;
    while (reader->Read(&chunk)) {
      EXPECT_EQ(chunk.offset(), offset + data->size());  // contiguous, in order
      *data += chunk.data();
      if (chunks) chunks->push_back(chunk);
    }
    return reader->Finish();
  }
  grpc::Status Report(const TestMiner& miner, const std::string& task, const v1::TrainingProgress& progress,
                      v1::ReportProgressResponse* response) {
    v1::ReportProgressRequest request;
    request.set_task_id(task);
    *request.mutable_progress() = progress;
    return stub_->ReportProgress(SessionContext(miner).get(), request, response);
  }
  std::string ReadBlob(const std::string& hash) { return *blobs_.Read(hash, 0, *blobs_.Size(hash)); }

  TestMiner honest_;
};

TEST_F(ClaimedTask, AClaimantFetchesTheTrainingSplitAndModelFilesFromAnyOffset) {
  std::string data;
  std::vector<v1::BlobChunk> chunks;
  grpc::Status status = Fetch(honest_, train_blob_, 0, std::nullopt, &data, &chunks);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(data, ReadBlob(train_blob_));
  ASSERT_GT(chunks.size(), 1u);  // bigger than one chunk
  EXPECT_EQ(chunks[0].data().size(), static_cast<size_t>(v1::LIMIT_MAX_CHUNK_BYTES));
  EXPECT_EQ(chunks[0].blob_size_bytes(), data.size());

  std::string resumed;
  ASSERT_TRUE(Fetch(honest_, train_blob_, 1000, 5000, &resumed).ok());
  EXPECT_EQ(resumed, ReadBlob(train_blob_).substr(1000, 5000));
  std::string weights;
  ASSERT_TRUE(Fetch(honest_, model_blobs_[1], 0, std::nullopt, &weights).ok());
  EXPECT_EQ(weights, std::string(300'000, 'w'));

  std::string nothing;
  EXPECT_TRUE(Fetch(honest_, model_blobs_[1], 300'000, std::nullopt, &nothing).ok());  // at the end: empty
  EXPECT_TRUE(nothing.empty());
  EXPECT_EQ(Fetch(honest_, model_blobs_[1], 300'001, std::nullopt, &nothing).error_code(),
            grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(Fetch(honest_, model_blobs_[1], 10, 299'991, &nothing).error_code(), grpc::StatusCode::OUT_OF_RANGE);

  // The claim shows the split's size, so a miner knows when a resumed fetch is complete.
  v1::RespondToOfferResponse claim;
  ASSERT_TRUE(Respond(honest_.token, "t1", v1::OFFER_DECISION_ACCEPT, &claim).ok());
  EXPECT_EQ(claim.claim().task().training_split().size_bytes(), ReadBlob(train_blob_).size());
}

TEST_F(ClaimedTask, NoMinerFetchesTheHiddenTestSplitOrTheBlobsOfTasksItDidNotClaim) {
  std::string data;
  grpc::Status hidden = Fetch(honest_, test_blob_, 0, std::nullopt, &data);
  EXPECT_EQ(hidden.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(hidden.error_message(), "blob " + test_blob_ + " is not a file of a task you claimed");
  const TestMiner outsider = NewMiner();
  EXPECT_EQ(Fetch(outsider, train_blob_, 0, std::nullopt, &data).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // An unknown digest tells no more than a forbidden one.
  EXPECT_EQ(Fetch(honest_, std::string(64, '0'), 0, std::nullopt, &data).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(data.empty());

  v1::FetchBlobRequest sha;
  sha.mutable_digest()->set_algorithm(v1::DIGEST_ALGORITHM_SHA256);
  sha.mutable_digest()->set_value(std::string(32, 'x'));
  std::unique_ptr<grpc::ClientContext> context = SessionContext(honest_);
  v1::BlobChunk chunk;
  auto reader = stub_->FetchBlob(context.get(), sha);
  while (reader->Read(&chunk)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ClaimedTask, ProgressIsKeptForTheClaimantAtMostOncePerSecond) {
  v1::TrainingProgress progress;
  progress.set_step(10);
  progress.set_train_loss(2.5);
  progress.mutable_trial()->set_strategy("random_search");
  v1::ReportProgressResponse response;
  grpc::Status status = Report(honest_, "t1", progress, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.task_status(), v1::TASK_STATUS_OFFERING);
  EXPECT_EQ(Report(honest_, "t1", progress, &response).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  now_ms_ += 1000;
  EXPECT_TRUE(Report(honest_, "t1", progress, &response).ok());

  progress.set_validation_loss(std::nan(""));
  now_ms_ += 1000;
  grpc::Status nan = Report(honest_, "t1", progress, &response);
  EXPECT_EQ(nan.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(nan.error_message(), "progress.validation_loss: not finite");
  progress.clear_validation_loss();
  EXPECT_EQ(Report(NewMiner(), "t1", progress, &response).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Report(honest_, "t404", progress, &response).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ClaimedTask, AVerifiedUploadIsRecordedDurablyAndItsFilesStoredBeforeTheReceipt) {
  const Checkpoint checkpoint = LoraCheckpoint(3'000'000);
  v1::UploadReceipt receipt;
  grpc::Status status = Upload(honest_, HonestUpload(honest_, "t1", checkpoint), &receipt);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(receipt.task_id(), "t1");
  EXPECT_EQ(receipt.file_count(), 2u);
  EXPECT_EQ(receipt.bytes_received(), common::CheckpointBytes(checkpoint.manifest));
  const common::Digest digest = common::CheckpointManifestDigest(checkpoint.manifest);
  EXPECT_EQ(receipt.manifest_digest().value(), std::string(digest.begin(), digest.end()));
  EXPECT_EQ(receipt.received_at().seconds(), 1'700'000'000);

  // What the receipt promises is in the database file (read through a second connection) and the
  // blob store.
  std::unique_ptr<SqliteStore> reopened = std::move(*SqliteStore::Open(dir_ / "state.db"));
  common::Result<SubmissionRecord> submission = reopened->GetSubmission("t1", honest_.key.public_key().ToHex());
  ASSERT_TRUE(submission.ok()) << submission.status().message();
  EXPECT_EQ(submission->receipt_id, receipt.receipt_id());
  EXPECT_EQ(submission->manifest, checkpoint.manifest);
  for (size_t i = 0; i < checkpoint.contents.size(); ++i) {
    EXPECT_EQ(ReadBlob(submission->file_blobs[i]), checkpoint.contents[i]);
  }
}

TEST_F(ClaimedTask, TheUploadStatusTellsNothingPartOrTheReceipt) {
  v1::GetUploadStatusResponse response;
  ASSERT_TRUE(UploadStatus(honest_, "t1", &response).ok());
  EXPECT_EQ(response.state(), v1::UPLOAD_STATE_NONE);
  const Checkpoint checkpoint = LoraCheckpoint(2'000'000);
  v1::UploadReceipt receipt;
  ASSERT_TRUE(Upload(honest_, HonestUpload(honest_, "t1", checkpoint), &receipt).ok());
  ASSERT_TRUE(UploadStatus(honest_, "t1", &response).ok());
  EXPECT_EQ(response.state(), v1::UPLOAD_STATE_COMPLETE);
  EXPECT_EQ(response.receipt().receipt_id(), receipt.receipt_id());
  EXPECT_EQ(response.durable_offsets_size(), 2);
  EXPECT_EQ(UploadStatus(NewMiner(), "t1", &response).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(ClaimedTask, AMinerSeesItsOwnResultsNewestFirstPageByPage) {
  AddOfferingTask("t2");
  v1::RespondToOfferResponse claim;
  ASSERT_TRUE(Respond(honest_.token, "t2", v1::OFFER_DECISION_ACCEPT, &claim).ok());
  v1::UploadReceipt receipt;
  ASSERT_TRUE(Upload(honest_, HonestUpload(honest_, "t1", LoraCheckpoint(1000)), &receipt).ok());
  const auto results = [&](const TestMiner& miner, v1::GetMyResultsRequest request, v1::GetMyResultsResponse* out) {
    return stub_->GetMyResults(SessionContext(miner).get(), request, out);
  };
  v1::GetMyResultsRequest first_page;
  first_page.set_page_size(1);
  v1::GetMyResultsResponse page;
  ASSERT_TRUE(results(honest_, first_page, &page).ok());
  ASSERT_EQ(page.results_size(), 1);
  EXPECT_EQ(page.results(0).task_id(), "t2");  // the newest claim
  EXPECT_EQ(page.results(0).status(), v1::SUBMISSION_STATUS_UNSPECIFIED);  // nothing uploaded yet
  ASSERT_FALSE(page.next_page_token().empty());
  v1::GetMyResultsRequest second_page = first_page;
  second_page.set_page_token(page.next_page_token());
  ASSERT_TRUE(results(honest_, second_page, &page).ok());
  ASSERT_EQ(page.results_size(), 1);
  EXPECT_EQ(page.results(0).task_id(), "t1");
  EXPECT_EQ(page.results(0).status(), v1::SUBMISSION_STATUS_RECEIVED);
  EXPECT_EQ(page.results(0).receipt_id(), receipt.receipt_id());
  EXPECT_TRUE(page.next_page_token().empty());
  // Another miner sees none of them.
  v1::GetMyResultsResponse others;
  ASSERT_TRUE(results(NewMiner(), v1::GetMyResultsRequest(), &others).ok());
  EXPECT_EQ(others.results_size(), 0);
}

TEST_F(ClaimedTask, AMinerPastItsRateLimitIsRefusedWhileOthersAreServed) {
  v1::GetUploadStatusResponse response;
  int served = 0;
  grpc::Status refused;
  for (int i = 0; i < 100 && refused.ok(); ++i) {  // the test clock stands still: no refill
    refused = UploadStatus(honest_, "t1", &response);
    served += refused.ok();
  }
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_GT(served, 10);
  const TestMiner other = NewMiner("t1");
  EXPECT_TRUE(UploadStatus(other, "t1", &response).ok());
  now_ms_ += 10'000;
  EXPECT_TRUE(UploadStatus(honest_, "t1", &response).ok());
}

TEST_F(ClaimedTask, AnInterruptedUploadResumesFromItsDurableOffsets) {
  const Checkpoint checkpoint = LoraCheckpoint(3'000'000);
  // The stream breaks after the config and 1.5 MB of the weights.
  std::vector<v1::UploadMessage> first = {BeginMessage("t1", honest_.claim_nonce, checkpoint.manifest)};
  for (v1::UploadMessage& chunk : ChunkMessages(checkpoint, {}, {checkpoint.contents[0].size(), 1'500'000})) {
    first.push_back(std::move(chunk));
  }
  v1::UploadReceipt receipt;
  grpc::Status broken = Upload(honest_, first, &receipt);
  EXPECT_EQ(broken.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  v1::GetUploadStatusResponse status;
  ASSERT_TRUE(UploadStatus(honest_, "t1", &status).ok());
  ASSERT_EQ(status.state(), v1::UPLOAD_STATE_PARTIAL);
  const common::Digest manifest_digest = common::CheckpointManifestDigest(checkpoint.manifest);
  EXPECT_EQ(status.manifest_digest().value(), std::string(manifest_digest.begin(), manifest_digest.end()));
  ASSERT_EQ(status.durable_offsets_size(), 2);
  EXPECT_EQ(status.durable_offsets(0), checkpoint.contents[0].size());
  EXPECT_EQ(status.durable_offsets(1), 1'500'000u);

  // A resume with another manifest is refused; the stored part stays.
  const Checkpoint other = LoraCheckpoint(3'000'000, 'y');
  grpc::Status mismatch = Upload(honest_, {BeginMessage("t1", honest_.claim_nonce, other.manifest, true)}, &receipt);
  EXPECT_EQ(mismatch.error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  std::vector<v1::UploadMessage> rest = {BeginMessage("t1", honest_.claim_nonce, checkpoint.manifest, true)};
  for (v1::UploadMessage& chunk :
       ChunkMessages(checkpoint, {status.durable_offsets(0), status.durable_offsets(1)})) {
    rest.push_back(std::move(chunk));
  }
  rest.push_back(EndMessage(honest_.key, honest_.key.public_key(), "t1", honest_.claim_nonce, checkpoint.manifest));
  grpc::Status resumed = Upload(honest_, rest, &receipt);
  ASSERT_TRUE(resumed.ok()) << resumed.error_message();
  EXPECT_EQ(receipt.bytes_received(), 1'500'000u);  // only what this stream carried
  common::Result<SubmissionRecord> submission = store_->GetSubmission("t1", honest_.key.public_key().ToHex());
  ASSERT_TRUE(submission.ok());
  EXPECT_EQ(ReadBlob(submission->file_blobs[1]), checkpoint.contents[1]);
}

TEST_F(ClaimedTask, AReuploadBeforeTheDeadlineReplacesTheEarlierOneAndNoneIsTakenAfterIt) {
  v1::UploadReceipt first, second_upload, late;
  ASSERT_TRUE(Upload(honest_, HonestUpload(honest_, "t1", LoraCheckpoint(1000, 'a')), &first).ok());
  const Checkpoint better = LoraCheckpoint(1000, 'b');
  ASSERT_TRUE(Upload(honest_, HonestUpload(honest_, "t1", better), &second_upload).ok());
  EXPECT_NE(first.receipt_id(), second_upload.receipt_id());
  common::Result<SubmissionRecord> submission = store_->GetSubmission("t1", honest_.key.public_key().ToHex());
  ASSERT_TRUE(submission.ok());
  EXPECT_EQ(submission->manifest, better.manifest);

  // A claim's re-uploads are counted: each keeps its files on disk.
  v1::UploadReceipt more;
  ASSERT_TRUE(Upload(honest_, HonestUpload(honest_, "t1", LoraCheckpoint(1000, 'c')), &more).ok());
  ASSERT_TRUE(Upload(honest_, HonestUpload(honest_, "t1", LoraCheckpoint(1000, 'd')), &more).ok());
  grpc::Status too_many = Upload(honest_, HonestUpload(honest_, "t1", LoraCheckpoint(1000, 'e')), &late);
  EXPECT_EQ(too_many.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(too_many.error_message(), "you uploaded 4 checkpoints to task t1, the most one claim may");

  const TestMiner second = NewMiner("t1");
  now_ms_ += 3'600'001;
  grpc::Status refused = Upload(second, HonestUpload(second, "t1", LoraCheckpoint(1000, 'c')), &late);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(refused.error_message(), "task t1: its deadline has passed");
  EXPECT_EQ(store_->GetSubmission("t1", second.key.public_key().ToHex()).status().code(), common::StatusCode::kNotFound);
}

TEST_F(ClaimedTask, TheSameCheckpointSentAgainKeepsTheTimeItFirstArrived) {
  const std::string miner = honest_.key.public_key().ToHex();
  const Checkpoint checkpoint = LoraCheckpoint(1000, 'a');
  v1::UploadReceipt receipt;
  ASSERT_TRUE(Upload(honest_, HonestUpload(honest_, "t1", checkpoint), &receipt).ok());
  const int64_t first_arrival = store_->GetSubmission("t1", miner)->received_at_ms;
  now_ms_ += 5000;
  ASSERT_TRUE(Upload(honest_, HonestUpload(honest_, "t1", checkpoint), &receipt).ok());
  EXPECT_EQ(store_->GetSubmission("t1", miner)->received_at_ms, first_arrival);
  EXPECT_EQ(receipt.received_at().seconds() * 1000 + receipt.received_at().nanos() / 1'000'000, first_arrival);
  // Another checkpoint is a new submission, with its own time.
  now_ms_ += 5000;
  ASSERT_TRUE(Upload(honest_, HonestUpload(honest_, "t1", LoraCheckpoint(1000, 'b')), &receipt).ok());
  EXPECT_EQ(store_->GetSubmission("t1", miner)->received_at_ms, first_arrival + 10'000);
}

// One hostile upload: what it sends and the refusal it must get.
struct HostileCase {
  std::string name;
  grpc::StatusCode code;
  std::string message;  // the start of the refusal's message
};

TEST_F(ClaimedTask, HostileUploadsAreRefusedEachWithItsReasonWhileHonestOnesGoThrough) {
  AddOfferingTask("t2");
  const TestMiner hostile = NewMiner("t1");
  const TestMiner other = NewMiner("t2");
  const Checkpoint checkpoint = LoraCheckpoint(200'000);
  const std::string& nonce = hostile.claim_nonce;
  const common::PublicKey& key = hostile.key.public_key();
  const auto upload = [&](std::vector<v1::UploadMessage> messages) {
    v1::UploadReceipt receipt;
    return Upload(hostile, messages, &receipt);
  };
  const auto with_end = [&](v1::UploadMessage begin, v1::UploadMessage end) {
    std::vector<v1::UploadMessage> messages = {std::move(begin)};
    for (v1::UploadMessage& chunk : ChunkMessages(checkpoint)) messages.push_back(std::move(chunk));
    messages.push_back(std::move(end));
    return messages;
  };
  const v1::UploadMessage begin = BeginMessage("t1", nonce, checkpoint.manifest);
  const v1::UploadMessage end = EndMessage(hostile.key, key, "t1", nonce, checkpoint.manifest);

  std::vector<std::pair<HostileCase, std::vector<v1::UploadMessage>>> cases;
  {
    v1::UploadMessage bad_signature = end;
    (*bad_signature.mutable_end()->mutable_envelope()->mutable_signature())[0] ^= 1;
    cases.push_back({{"bad signature", grpc::StatusCode::UNAUTHENTICATED, "envelope signature does not verify"},
                     with_end(begin, bad_signature)});
  }
  cases.push_back({{"another miner's key", grpc::StatusCode::UNAUTHENTICATED,
                    "the envelope is signed by another key than this session's"},
                   with_end(begin, EndMessage(other.key, other.key.public_key(), "t1", nonce, checkpoint.manifest))});
  cases.push_back({{"another claim's nonce in the envelope", grpc::StatusCode::UNAUTHENTICATED,
                    "envelope field nonce does not match this upload"},
                   with_end(begin, EndMessage(hostile.key, key, "t1", other.claim_nonce, checkpoint.manifest))});
  cases.push_back({{"another claim's nonce in UploadBegin", grpc::StatusCode::UNAUTHENTICATED,
                    "claim_nonce is not the nonce of your claim on task t1"},
                   with_end(BeginMessage("t1", other.claim_nonce, checkpoint.manifest), end)});
  cases.push_back({{"an envelope for another validator", grpc::StatusCode::UNAUTHENTICATED,
                    "envelope field validator_id does not match this upload"},
                   with_end(begin, EndMessage(hostile.key, key, "t1", nonce, checkpoint.manifest, "validator-2"))});
  cases.push_back({{"unknown task", grpc::StatusCode::NOT_FOUND, "no task t404"},
                   with_end(BeginMessage("t404", nonce, checkpoint.manifest), end)});
  cases.push_back({{"unclaimed task", grpc::StatusCode::FAILED_PRECONDITION, "task t2: you hold no claim on it"},
                   with_end(BeginMessage("t2", nonce, checkpoint.manifest), end)});
  {
    v1::UploadMessage oversize_chunk;
    oversize_chunk.mutable_chunk()->set_file_index(1);
    oversize_chunk.mutable_chunk()->set_data(std::string((1 << 20) + 1, 'x'));
    cases.push_back({{"oversize chunk", grpc::StatusCode::RESOURCE_EXHAUSTED, "chunk of 1048577 bytes exceeds"},
                     {begin, oversize_chunk}});
  }
  {
    common::CheckpointManifest huge = checkpoint.manifest;
    huge.files[1].size_bytes = 50'000'000;
    cases.push_back({{"oversize upload", grpc::StatusCode::RESOURCE_EXHAUSTED, "the checkpoint's 50000029 bytes"},
                     {BeginMessage("t1", nonce, huge)}});
  }
  {
    std::vector<v1::UploadMessage> truncated = {begin};
    for (v1::UploadMessage& chunk : ChunkMessages(checkpoint, {}, {checkpoint.contents[0].size(), 100'000})) {
      truncated.push_back(std::move(chunk));
    }
    truncated.push_back(end);
    cases.push_back({{"truncated upload", grpc::StatusCode::INVALID_ARGUMENT,
                      "the upload ended with file 1 \"adapter_model.safetensors\" at 100000 of 200000 bytes"},
                     truncated});
  }
  {
    Checkpoint wrong_bytes = checkpoint;
    wrong_bytes.contents[1][5] = 'z';
    std::vector<v1::UploadMessage> messages = {begin};
    for (v1::UploadMessage& chunk : ChunkMessages(wrong_bytes)) messages.push_back(std::move(chunk));
    messages.push_back(end);
    cases.push_back({{"digest mismatch", grpc::StatusCode::INVALID_ARGUMENT,
                      "file 1 \"adapter_model.safetensors\": its bytes do not match the manifest's digest"},
                     messages});
  }
  {
    common::CheckpointManifest pickled = checkpoint.manifest;
    pickled.files[1].path = "adapter_model.bin";
    cases.push_back({{"a pickle", grpc::StatusCode::INVALID_ARGUMENT, "manifest file 1 \"adapter_model.bin\": pickled"},
                     {BeginMessage("t1", nonce, pickled)}});
  }
  {
    v1::UploadMessage gap;
    gap.mutable_chunk()->set_file_index(1);
    gap.mutable_chunk()->set_offset(10);
    gap.mutable_chunk()->set_data("x");
    cases.push_back({{"a gap in a file", grpc::StatusCode::INVALID_ARGUMENT,
                      "chunk: file 1 \"adapter_model.safetensors\" continues at offset 0, not 10"},
                     {begin, gap}});
  }
  cases.push_back({{"no UploadBegin", grpc::StatusCode::INVALID_ARGUMENT, "an upload starts with UploadBegin"}, {end}});
  cases.push_back({{"a second UploadBegin", grpc::StatusCode::INVALID_ARGUMENT, "a second UploadBegin in one upload"},
                   {begin, begin}});
  cases.push_back({{"an empty message", grpc::StatusCode::INVALID_ARGUMENT, "an upload message with nothing set"},
                   {begin, v1::UploadMessage()}});
  {
    v1::UploadMessage past_end;
    past_end.mutable_chunk()->set_file_index(0);
    past_end.mutable_chunk()->set_data(checkpoint.contents[0] + "x");
    cases.push_back({{"a chunk past the end of its file", grpc::StatusCode::OUT_OF_RANGE,
                      "chunk: passes the end of file 0 \"adapter_config.json\""},
                     {begin, past_end}});
    v1::UploadMessage no_such_file = past_end;
    no_such_file.mutable_chunk()->set_file_index(7);
    cases.push_back({{"an unknown file", grpc::StatusCode::INVALID_ARGUMENT, "chunk: file_index 7 is not in the manifest"},
                     {begin, no_such_file}});
    v1::UploadMessage empty = past_end;
    empty.mutable_chunk()->clear_data();
    cases.push_back({{"an empty chunk", grpc::StatusCode::INVALID_ARGUMENT, "chunk: no data"}, {begin, empty}});
  }
  {
    common::CheckpointManifest escape = checkpoint.manifest;
    escape.files[0].path = "../../state.db";
    cases.push_back({{"a path out of the checkpoint", grpc::StatusCode::INVALID_ARGUMENT,
                      "manifest file 0 \"../../state.db\": not a file a LoRA adapter checkpoint may contain"},
                     {BeginMessage("t1", nonce, escape)}});
    common::CheckpointManifest crowded = checkpoint.manifest;
    crowded.files.resize(257, checkpoint.manifest.files[0]);
    cases.push_back({{"too many files", grpc::StatusCode::INVALID_ARGUMENT, "manifest: at most 256 files, got 257"},
                     {BeginMessage("t1", nonce, crowded)}});
  }

  for (const auto& [expected, messages] : cases) {
    grpc::Status status = upload(messages);
    EXPECT_EQ(status.error_code(), expected.code) << expected.name << ": " << status.error_message();
    EXPECT_TRUE(status.error_message().starts_with(expected.message)) << expected.name << ": " << status.error_message();
  }
  EXPECT_EQ(store_->GetSubmission("t1", key.ToHex()).status().code(), common::StatusCode::kNotFound);

  // The honest miner of the same task is unaffected.
  v1::UploadReceipt receipt;
  grpc::Status honest = Upload(honest_, HonestUpload(honest_, "t1", checkpoint), &receipt);
  EXPECT_TRUE(honest.ok()) << honest.error_message();
  // And the hostile one, once it behaves, gets its receipt too.
  EXPECT_TRUE(upload(with_end(begin, end)).ok());
}

TEST_F(ClaimedTask, OnlyOneStreamUploadsForAMinersTaskAtATime) {
  const Checkpoint checkpoint = LoraCheckpoint(1000);
  const common::PublicKey& key = honest_.key.public_key();
  const auto nonce = std::span(reinterpret_cast<const uint8_t*>(honest_.claim_nonce.data()), honest_.claim_nonce.size());
  common::Result<std::unique_ptr<UploadStream>> first = uploads_->Begin(key, "t1", nonce, checkpoint.manifest, false);
  ASSERT_TRUE(first.ok()) << first.status().message();
  common::Result<std::unique_ptr<UploadStream>> second = uploads_->Begin(key, "t1", nonce, checkpoint.manifest, true);
  EXPECT_EQ(second.status().code(), common::StatusCode::kFailedPrecondition);
  EXPECT_EQ(second.status().message(), "an upload to task t1 is already open on another stream");
  ASSERT_TRUE((*first)->Append(0, 0, checkpoint.contents[0]).ok());
  first->reset();  // the stream breaks: its bytes are kept and the upload is free again
  common::Result<std::unique_ptr<UploadStream>> resumed = uploads_->Begin(key, "t1", nonce, checkpoint.manifest, true);
  ASSERT_TRUE(resumed.ok()) << resumed.status().message();
  EXPECT_EQ((*resumed)->Append(0, 0, "x").code(), common::StatusCode::kInvalidArgument);  // file 0 is complete
}

TEST_F(ClaimedTask, AnUploadResumesAfterTheValidatorWasKilledFromWhatWasSynced) {
  const Checkpoint checkpoint = LoraCheckpoint(3'000'000);
  const common::PublicKey& key = honest_.key.public_key();
  const auto nonce = std::span(reinterpret_cast<const uint8_t*>(honest_.claim_nonce.data()), honest_.claim_nonce.size());
  {
    common::Result<std::unique_ptr<UploadStream>> stream = uploads_->Begin(key, "t1", nonce, checkpoint.manifest, false);
    ASSERT_TRUE(stream.ok()) << stream.status().message();
    ASSERT_TRUE((*stream)->Append(0, 0, checkpoint.contents[0]).ok());
    // 1.5 MB of the weights: the first 1 MiB is synced (the fixture syncs every MiB), the rest is
    // in the page cache only.
    for (uint64_t offset = 0; offset < 1'500'000; offset += 100'000) {
      ASSERT_TRUE((*stream)->Append(1, offset, checkpoint.contents[1].substr(offset, 100'000)).ok());
    }
    // Killed: no destructor runs, nothing more is synced or recorded.
    (void)stream->release();
  }
  // The restarted validator: a new store and uploads over the same files.
  std::unique_ptr<SqliteStore> store = std::move(*SqliteStore::Open(dir_ / "state.db"));
  std::unique_ptr<CheckpointUploads> uploads =
      std::move(*CheckpointUploads::Open(*store, *store, *store, *store, blobs_, dir_ / "uploads",
                                         "validator-under-test", UploadOptions{}, [this] { return now_ms_.load(); }));
  common::Result<UploadProgress> progress = uploads->Progress(key, "t1");
  ASSERT_TRUE(progress.ok()) << progress.status().message();
  ASSERT_EQ(progress->state, UploadState::kPartial);
  const std::vector<uint64_t> offsets = progress->partial->durable_offsets;
  EXPECT_EQ(offsets[0], checkpoint.contents[0].size());
  EXPECT_GE(offsets[1], uint64_t{1} << 20);
  EXPECT_LT(offsets[1], 1'500'000u);  // the unsynced tail does not count...

  common::Result<std::unique_ptr<UploadStream>> resumed = uploads->Begin(key, "t1", nonce, checkpoint.manifest, true);
  ASSERT_TRUE(resumed.ok()) << resumed.status().message();
  // ...and is cut off: the miner continues at the recorded offset.
  EXPECT_EQ(std::filesystem::file_size(dir_ / "uploads" / (common::ToHex(std::span(reinterpret_cast<const uint8_t*>("t1"), 2)) +
                                                           "-" + key.ToHex()) / "1"),
            offsets[1]);
  for (uint64_t offset = offsets[1]; offset < checkpoint.contents[1].size(); offset += 500'000) {
    ASSERT_TRUE((*resumed)->Append(1, offset, checkpoint.contents[1].substr(offset, 500'000)).ok());
  }
  const common::Envelope body = common::CheckpointEnvelope("validator-under-test", "t1", key, nonce,
                                           common::CheckpointManifestDigest(checkpoint.manifest), 1);
  common::Result<SubmissionRecord> submission = (*resumed)->Finish(*common::SignEnvelope(body, honest_.key));
  ASSERT_TRUE(submission.ok()) << submission.status().message();
  EXPECT_EQ(ReadBlob(submission->file_blobs[1]), checkpoint.contents[1]);
}

TEST_F(ClaimedTask, ALargeUploadLeavesThePageCacheBehindItAndKeepsEveryByte) {
  const size_t window = UploadStream::kPageCacheWindowBytes;
  std::string weights(3 * window + 12'345, '\0');
  for (size_t i = 0; i < weights.size(); ++i) weights[i] = static_cast<char>((i * 2'654'435'761u) >> 13);
  const Checkpoint checkpoint =
      LoraCheckpointOf({{"adapter_config.json", R"({"peft_type": "LORA"})"}, {"adapter_model.safetensors", weights}});
  std::unique_ptr<CheckpointUploads> uploads =
      std::move(*CheckpointUploads::Open(*store_, *store_, *store_, *store_, blobs_, dir_ / "large-uploads",
                                         "validator-under-test", UploadOptions{}, [this] { return now_ms_.load(); }));
  const common::PublicKey& key = honest_.key.public_key();
  const auto nonce = std::span(reinterpret_cast<const uint8_t*>(honest_.claim_nonce.data()), honest_.claim_nonce.size());
  common::Result<std::unique_ptr<UploadStream>> stream = uploads->Begin(key, "t1", nonce, checkpoint.manifest, false);
  ASSERT_TRUE(stream.ok()) << stream.status().message();
  ASSERT_TRUE((*stream)->Append(0, 0, checkpoint.contents[0]).ok());
  for (uint64_t offset = 0; offset < weights.size(); offset += 1 << 20) {
    ASSERT_TRUE((*stream)->Append(1, offset, weights.substr(offset, 1 << 20)).ok());
  }
  const std::filesystem::path part =
      dir_ / "large-uploads" / (common::ToHex(std::span(reinterpret_cast<const uint8_t*>("t1"), 2)) + "-" + key.ToHex()) / "1";
  if (std::optional<size_t> cached = CachedPages(part, window); cached) {
    EXPECT_LT(*cached, window / 4096 / 10) << "of the first " << window << " bytes written, pages still cached";
  }
  const common::Envelope body = common::CheckpointEnvelope("validator-under-test", "t1", key, nonce,
                                           common::CheckpointManifestDigest(checkpoint.manifest), 1);
  common::Result<SubmissionRecord> submission = (*stream)->Finish(*common::SignEnvelope(body, honest_.key));
  ASSERT_TRUE(submission.ok()) << submission.status().message();
  EXPECT_EQ(ReadBlob(submission->file_blobs[1]), weights);
}

TEST_F(ClaimedTask, AReplacedOrLongFinishedCheckpointIsRemovedAndWhatARecordNeedsStays) {
  // Two uploads by one miner, the second replacing the first; both have the same adapter config.
  const Checkpoint first = LoraCheckpoint(100'000, 'x'), second = LoraCheckpoint(100'000, 'y');
  for (const Checkpoint* checkpoint : {&first, &second}) {
    std::vector<v1::UploadMessage> messages = {BeginMessage("t1", honest_.claim_nonce, checkpoint->manifest)};
    for (v1::UploadMessage& chunk : ChunkMessages(*checkpoint)) messages.push_back(std::move(chunk));
    messages.push_back(EndMessage(honest_.key, honest_.key.public_key(), "t1", honest_.claim_nonce, checkpoint->manifest));
    v1::UploadReceipt receipt;
    grpc::Status status = Upload(honest_, messages, &receipt);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  const std::string replaced = common::ToHex(common::ComputeDigest(common::DigestAlgorithm::kBlake2b256, first.contents[1]));
  ASSERT_TRUE(blobs_.Contains(replaced));
  const std::vector<std::string> submitted = store_->GetSubmission("t1", honest_.key.public_key().ToHex())->file_blobs;
  std::vector<std::string> needed = {train_blob_, test_blob_};
  needed.insert(needed.end(), submitted.begin(), submitted.end());
  const RetentionOptions options;  // finished tasks kept 7 days, a grace of an hour

  // Within the grace period nothing is removed; past it, the replaced weights only.
  EXPECT_EQ(RemoveUnneededBlobs(*store_, blobs_, options, common::SystemClockMs())->removed, 0);
  const int64_t later_ms = common::SystemClockMs() + 2 * options.grace_ms;
  common::Result<BlobSweep> sweep = RemoveUnneededBlobs(*store_, blobs_, options, later_ms);
  ASSERT_TRUE(sweep.ok()) << sweep.status().message();
  EXPECT_EQ(sweep->removed, 1);
  EXPECT_EQ(sweep->removed_bytes, 100'000u);
  EXPECT_FALSE(blobs_.Contains(replaced));
  for (const std::string& blob : needed) EXPECT_TRUE(blobs_.Contains(blob)) << blob;

  // A finished task keeps its files for keep_finished_ms; then they go, and the model stays.
  ASSERT_TRUE(store_->TransitionTask("t1", TaskStatus::kOffering, TaskStatus::kFailed, "cancelled", later_ms).ok());
  EXPECT_EQ(RemoveUnneededBlobs(*store_, blobs_, options, later_ms + options.keep_finished_ms)->removed, 0);
  sweep = RemoveUnneededBlobs(*store_, blobs_, options, later_ms + options.keep_finished_ms + 1);
  ASSERT_TRUE(sweep.ok()) << sweep.status().message();
  EXPECT_EQ(sweep->removed, 4);  // the checkpoint's two files, the two splits
  for (const std::string& blob : needed) EXPECT_FALSE(blobs_.Contains(blob)) << blob;
  for (const std::string& blob : model_blobs_) EXPECT_TRUE(blobs_.Contains(blob)) << blob;
}

TEST_F(ClaimedTask, AnUploadTheDeadlineOvertakesIsDiscarded) {
  const Checkpoint checkpoint = LoraCheckpoint(1000);
  const common::PublicKey& key = honest_.key.public_key();
  const auto nonce = std::span(reinterpret_cast<const uint8_t*>(honest_.claim_nonce.data()), honest_.claim_nonce.size());
  common::Result<std::unique_ptr<UploadStream>> stream = uploads_->Begin(key, "t1", nonce, checkpoint.manifest, false);
  ASSERT_TRUE(stream.ok());
  ASSERT_TRUE((*stream)->Append(0, 0, checkpoint.contents[0]).ok());
  ASSERT_TRUE((*stream)->Append(1, 0, checkpoint.contents[1]).ok());
  now_ms_ += 3'600'001;
  const common::Envelope body = common::CheckpointEnvelope("validator-under-test", "t1", key, nonce,
                                           common::CheckpointManifestDigest(checkpoint.manifest), 1);
  common::Result<SubmissionRecord> late = (*stream)->Finish(*common::SignEnvelope(body, honest_.key));
  EXPECT_EQ(late.status().code(), common::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->GetSubmission("t1", key.ToHex()).status().code(), common::StatusCode::kNotFound);
  EXPECT_FALSE(store_->GetPartialUpload("t1", key.ToHex())->has_value());
}

}  // namespace
}  // namespace gradients::validator
