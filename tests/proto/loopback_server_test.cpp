// Starts a real gRPC server on 127.0.0.1 with small test implementations of a few rpcs and calls them through a
// real channel, so that the generated stubs, the streaming shapes and the deadline handling are exercised end to end.
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gradients/v1/admin.grpc.pb.h"
#include "gradients/v1/miner_gateway.grpc.pb.h"

namespace {

namespace v1 = gradients::v1;

constexpr std::chrono::seconds kCallTimeout{10};

void SetTestDeadline(grpc::ClientContext& context) {
  context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
}

class TestAdmin final : public v1::Admin::Service {
 public:
  grpc::Status Health(grpc::ServerContext*, const v1::HealthRequest*, v1::HealthResponse* response) override {
    response->set_status(v1::SERVING_STATUS_SERVING);
    response->set_version("test");
    response->mutable_uptime()->set_seconds(42);
    return grpc::Status::OK;
  }
};

// Serves one in-memory blob in deliberately small chunks, so that a fetch spans many messages, and records the
// checkpoint uploads it receives.
class TestMinerGateway final : public v1::MinerGateway::Service {
 public:
  static constexpr std::size_t kChunkBytes = 7;

  struct ReceivedUpload {
    v1::UploadBegin begin;
    std::map<std::uint32_t, std::string> files;
    v1::SignedEnvelope envelope;
  };

  TestMinerGateway(v1::Digest digest, std::string blob) : digest_(std::move(digest)), blob_(std::move(blob)) {}

  grpc::Status FetchBlob(grpc::ServerContext*, const v1::FetchBlobRequest* request,
                         grpc::ServerWriter<v1::BlobChunk>* writer) override {
    if (request->digest().algorithm() != digest_.algorithm() || request->digest().value() != digest_.value()) {
      return {grpc::StatusCode::NOT_FOUND, "unknown blob"};
    }
    const std::uint64_t size = blob_.size();
    const std::uint64_t offset = request->offset();
    if (offset > size) return {grpc::StatusCode::OUT_OF_RANGE, "offset past the end of the blob"};
    const std::uint64_t length = request->has_length() ? request->length() : size - offset;
    if (length > size - offset) return {grpc::StatusCode::OUT_OF_RANGE, "range past the end of the blob"};

    for (std::uint64_t position = offset; position < offset + length; position += kChunkBytes) {
      const std::uint64_t end = std::min<std::uint64_t>(position + kChunkBytes, offset + length);
      v1::BlobChunk chunk;
      chunk.set_offset(position);
      chunk.set_data(blob_.substr(position, end - position));
      chunk.set_blob_size_bytes(size);
      if (!writer->Write(chunk)) return {grpc::StatusCode::CANCELLED, "client went away"};
    }
    return grpc::Status::OK;
  }

  grpc::Status UploadCheckpoint(grpc::ServerContext*, grpc::ServerReader<v1::UploadMessage>* reader,
                                v1::UploadReceipt* receipt) override {
    ReceivedUpload upload;
    v1::UploadMessage message;
    if (!reader->Read(&message) || !message.has_begin()) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "the first message must be UploadBegin"};
    }
    upload.begin = message.begin();
    std::uint64_t bytes_received = 0;
    bool ended = false;
    while (reader->Read(&message)) {
      if (ended) return {grpc::StatusCode::INVALID_ARGUMENT, "message after UploadEnd"};
      if (message.has_end()) {
        upload.envelope = message.end().envelope();
        ended = true;
        continue;
      }
      if (!message.has_chunk()) return {grpc::StatusCode::INVALID_ARGUMENT, "expected FileChunk or UploadEnd"};
      const v1::FileChunk& chunk = message.chunk();
      if (chunk.file_index() >= static_cast<std::uint32_t>(upload.begin.manifest().files_size())) {
        return {grpc::StatusCode::INVALID_ARGUMENT, "file index outside the manifest"};
      }
      std::string& file = upload.files[chunk.file_index()];
      if (chunk.offset() != file.size()) return {grpc::StatusCode::INVALID_ARGUMENT, "non-contiguous offset"};
      file += chunk.data();
      bytes_received += chunk.data().size();
    }
    if (!ended) return {grpc::StatusCode::INVALID_ARGUMENT, "stream closed without UploadEnd"};
    if (upload.envelope.signer_public_key().size() != 32 || upload.envelope.signature().size() != 64) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "malformed envelope"};
    }

    receipt->set_task_id(upload.begin.task_id());
    receipt->set_receipt_id("receipt-" + upload.begin.task_id());
    receipt->set_bytes_received(bytes_received);
    receipt->set_file_count(static_cast<std::uint32_t>(upload.begin.manifest().files_size()));
    receipt->mutable_received_at()->set_seconds(1'700'000'000);
    std::lock_guard lock(mutex_);
    last_upload_ = std::move(upload);
    return grpc::Status::OK;
  }

  std::optional<ReceivedUpload> last_upload() {
    std::lock_guard lock(mutex_);
    return last_upload_;
  }

 private:
  const v1::Digest digest_;
  const std::string blob_;
  std::mutex mutex_;
  std::optional<ReceivedUpload> last_upload_;
};

v1::Digest BlobDigest() {
  v1::Digest digest;
  digest.set_algorithm(v1::DIGEST_ALGORITHM_BLAKE2B_256);
  digest.set_value(std::string(32, '\x5a'));
  return digest;
}

std::string TestBlob() {
  std::string blob;
  for (int i = 0; i < 100; ++i) blob += static_cast<char>(i * 37 % 256);
  return blob;
}

class LoopbackServer : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int selected_port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &selected_port);
    builder.RegisterService(&admin_);
    builder.RegisterService(&gateway_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(selected_port, 0);
    auto channel =
        grpc::CreateChannel("127.0.0.1:" + std::to_string(selected_port), grpc::InsecureChannelCredentials());
    admin_stub_ = v1::Admin::NewStub(channel);
    gateway_stub_ = v1::MinerGateway::NewStub(channel);
  }

  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }

  // Fetches [offset, end) and checks that the chunks arrive contiguous and bounded.
  std::string Fetch(std::uint64_t offset, std::optional<std::uint64_t> length, grpc::Status* status) {
    grpc::ClientContext context;
    SetTestDeadline(context);
    v1::FetchBlobRequest request;
    *request.mutable_digest() = BlobDigest();
    request.set_offset(offset);
    if (length) request.set_length(*length);
    auto reader = gateway_stub_->FetchBlob(&context, request);
    std::string received;
    v1::BlobChunk chunk;
    while (reader->Read(&chunk)) {
      EXPECT_EQ(chunk.offset(), offset + received.size());
      EXPECT_LE(chunk.data().size(), TestMinerGateway::kChunkBytes);
      EXPECT_EQ(chunk.blob_size_bytes(), blob_.size());
      received += chunk.data();
    }
    *status = reader->Finish();
    return received;
  }

  const std::string blob_ = TestBlob();
  TestAdmin admin_;
  TestMinerGateway gateway_{BlobDigest(), blob_};
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Admin::Stub> admin_stub_;
  std::unique_ptr<v1::MinerGateway::Stub> gateway_stub_;
};

TEST_F(LoopbackServer, HealthReportsServing) {
  grpc::ClientContext context;
  SetTestDeadline(context);
  v1::HealthResponse response;

  const grpc::Status status = admin_stub_->Health(&context, v1::HealthRequest{}, &response);

  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.status(), v1::SERVING_STATUS_SERVING);
  EXPECT_EQ(response.uptime().seconds(), 42);
}

TEST_F(LoopbackServer, FetchBlobFromAnOffsetReturnsExactlyTheTail) {
  grpc::Status status;
  const std::string tail = Fetch(23, std::nullopt, &status);

  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(tail, blob_.substr(23));
}

TEST_F(LoopbackServer, FetchBlobResumedFromAMiddleOffsetConcatenatesToTheWholeBlob) {
  grpc::Status first_status;
  const std::string head = Fetch(0, 45, &first_status);
  ASSERT_TRUE(first_status.ok()) << first_status.error_message();
  ASSERT_EQ(head.size(), 45u);

  grpc::Status second_status;
  const std::string rest = Fetch(head.size(), std::nullopt, &second_status);

  ASSERT_TRUE(second_status.ok()) << second_status.error_message();
  EXPECT_EQ(head + rest, blob_);
}

TEST_F(LoopbackServer, FetchBlobFromTheEndReturnsNothingAndSucceeds) {
  grpc::Status status;
  const std::string nothing = Fetch(blob_.size(), std::nullopt, &status);

  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(nothing.empty());
}

TEST_F(LoopbackServer, FetchBlobPastTheEndFailsWithOutOfRange) {
  grpc::Status status;
  Fetch(blob_.size() + 1, std::nullopt, &status);

  EXPECT_EQ(status.error_code(), grpc::StatusCode::OUT_OF_RANGE);
}

TEST_F(LoopbackServer, UploadCheckpointReceiptReflectsWhatWasSent) {
  const std::vector<std::string> files = {std::string(20, 'a'), std::string("{\"r\": 8}")};
  grpc::ClientContext context;
  SetTestDeadline(context);
  v1::UploadReceipt receipt;
  auto writer = gateway_stub_->UploadCheckpoint(&context, &receipt);

  v1::UploadMessage begin;
  begin.mutable_begin()->set_task_id("task-7");
  begin.mutable_begin()->set_claim_nonce(std::string(32, '\x01'));
  begin.mutable_begin()->mutable_manifest()->set_kind(v1::CHECKPOINT_KIND_LORA_ADAPTER);
  for (const std::string& content : files) {
    begin.mutable_begin()->mutable_manifest()->add_files()->set_size_bytes(content.size());
  }
  ASSERT_TRUE(writer->Write(begin));
  for (std::uint32_t index = 0; index < files.size(); ++index) {
    for (std::size_t offset = 0; offset < files[index].size(); offset += 6) {
      v1::UploadMessage chunk;
      chunk.mutable_chunk()->set_file_index(index);
      chunk.mutable_chunk()->set_offset(offset);
      chunk.mutable_chunk()->set_data(files[index].substr(offset, 6));
      ASSERT_TRUE(writer->Write(chunk));
    }
  }
  v1::UploadMessage end;
  end.mutable_end()->mutable_envelope()->set_encoded("gradients/checkpoint/v1 ...");
  end.mutable_end()->mutable_envelope()->set_signer_public_key(std::string(32, '\x02'));
  end.mutable_end()->mutable_envelope()->set_signature(std::string(64, '\x03'));
  ASSERT_TRUE(writer->Write(end));
  ASSERT_TRUE(writer->WritesDone());
  const grpc::Status status = writer->Finish();

  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(receipt.task_id(), "task-7");
  EXPECT_EQ(receipt.receipt_id(), "receipt-task-7");
  EXPECT_EQ(receipt.bytes_received(), files[0].size() + files[1].size());
  EXPECT_EQ(receipt.file_count(), 2u);
  const auto upload = gateway_.last_upload();
  ASSERT_TRUE(upload.has_value());
  EXPECT_EQ(upload->files.at(0), files[0]);
  EXPECT_EQ(upload->files.at(1), files[1]);
  EXPECT_EQ(upload->envelope.encoded(), "gradients/checkpoint/v1 ...");
}

TEST_F(LoopbackServer, UploadCheckpointWithoutBeginFailsWithInvalidArgument) {
  grpc::ClientContext context;
  SetTestDeadline(context);
  v1::UploadReceipt receipt;
  auto writer = gateway_stub_->UploadCheckpoint(&context, &receipt);
  v1::UploadMessage chunk;
  chunk.mutable_chunk()->set_data("orphan");

  writer->Write(chunk);
  writer->WritesDone();
  const grpc::Status status = writer->Finish();

  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(gateway_.last_upload().has_value());
}

TEST_F(LoopbackServer, CallWithAnAlreadyExpiredDeadlineFailsWithDeadlineExceeded) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() - std::chrono::seconds(1));
  v1::HealthResponse response;

  const grpc::Status status = admin_stub_->Health(&context, v1::HealthRequest{}, &response);

  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
}

}  // namespace
