// The validator under load (bench/RESULTS.md): a real gradients-validator process on loopback,
// N simulated miners connected with SubscribeOffers streams, then:
//   - offer-to-claim latency: from a miner receiving an offer to its claim arriving (RespondToOffer
//     ACCEPT), p50/p99 over every claim while all N miners stay connected;
//   - the validator's resident memory per connected miner (RSS with N streams open minus before);
//   - upload throughput of one large checkpoint over loopback, beside a plain durable file copy of
//     the same bytes on the same disk.
// Usage: validator_bench --validator PATH --work DIR [--miners 500] [--tasks 20] [--upload-mib 1024]
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "common/checkpoint_manifest.h"
#include "common/durable_file.h"
#include "common/protocol_envelopes.h"
#include "gradients/v1/admin.grpc.pb.h"
#include "gradients/v1/miner_gateway.grpc.pb.h"
#include "proto/auth_messages.h"
#include "proto/checkpoint_messages.h"

namespace {

using Clock = std::chrono::steady_clock;
using gradients::common::SigningKey;
namespace v1 = gradients::v1;

std::string Flag(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == "--" + name) return argv[i + 1];
  }
  return fallback;
}

std::unique_ptr<grpc::ClientContext> Context(const std::string& token = "", int seconds = 60) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  if (!token.empty()) context->AddMetadata("gradients-session", token);
  return context;
}

std::string Bytes(const gradients::common::PublicKey& key) { return std::string(key.bytes.begin(), key.bytes.end()); }

// A session for `key`.
std::string Authenticate(v1::MinerGateway::Stub& stub, const SigningKey& key) {
  v1::GetChallengeRequest request;
  request.set_miner_public_key(Bytes(key.public_key()));
  v1::GetChallengeResponse challenge;
  if (!stub.GetChallenge(Context().get(), request, &challenge).ok()) return "";
  gradients::common::Result<v1::AuthenticateRequest> answer = gradients::proto::AnswerChallenge(challenge, key, "validator_bench");
  v1::AuthenticateResponse session;
  if (!answer.ok() || !stub.Authenticate(Context().get(), *answer, &session).ok()) return "";
  return session.session_token();
}

int64_t ResidentKiB(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmRSS:")) return std::stoll(line.substr(6));
  }
  return -1;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(p * static_cast<double>(values.size())))];
}

// The latency of every claim, from the offer's arrival to the claim's answer.
class Claims {
 public:
  void Record(double ms) {
    std::lock_guard lock(mutex_);
    latencies_ms_.push_back(ms);
    changed_.notify_all();
  }
  // Once `count` claims are in, or `timeout` passed.
  std::vector<double> Await(int count, std::chrono::seconds timeout) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout, [&] { return static_cast<int>(latencies_ms_.size()) >= count; });
    return latencies_ms_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<double> latencies_ms_;
};

class OfferReader;
struct Miner {
  SigningKey key = SigningKey::Generate();
  std::string token;
  std::unique_ptr<v1::MinerGateway::Stub> stub;
  std::unique_ptr<OfferReader> offers;
};

// A miner's offer stream on gRPC's callback API, as the validator serves it: no thread per miner,
// so that 500 client miners take little of the cores the validator runs on. It accepts each offer
// until one claim succeeds.
class OfferReader : public grpc::ClientReadReactor<v1::TaskOffer> {
 public:
  OfferReader(Miner& miner, Claims& claims) : miner_(miner), claims_(claims), context_(Context(miner.token, 3600)) {
    request_.mutable_capacity()->set_max_model_parameters(1'000'000'000'000);
    request_.mutable_capacity()->add_task_types(v1::TASK_TYPE_INSTRUCT);
    request_.mutable_capacity()->set_device(v1::DEVICE_KIND_CPU);
    request_.mutable_capacity()->set_max_concurrent_tasks(1);
    miner_.stub->async()->SubscribeOffers(context_.get(), &request_, this);
    StartRead(&offer_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream ended: OnDone follows
    received_ = Clock::now();
    accept_.set_task_id(offer_.task_id());
    accept_.set_decision(v1::OFFER_DECISION_ACCEPT);
    claim_context_ = Context(miner_.token);
    AddHold();  // the stream's reactor lives until the claim's answer
    miner_.stub->async()->RespondToOffer(claim_context_.get(), &accept_, &claim_, [this](grpc::Status status) {
      if (status.ok()) {
        claims_.Record(std::chrono::duration<double, std::milli>(Clock::now() - received_).count());
      } else {
        StartRead(&offer_);  // the pool filled first: wait for another offer
      }
      RemoveHold();
    });
  }
  void OnDone(const grpc::Status&) override {
    std::lock_guard lock(mutex_);
    done_ = true;
    finished_.notify_all();
  }
  // Ends the stream and waits for the reactor to finish.
  void Stop() {
    context_->TryCancel();
    std::unique_lock lock(mutex_);
    finished_.wait(lock, [&] { return done_; });
  }

 private:
  Miner& miner_;
  Claims& claims_;
  std::unique_ptr<grpc::ClientContext> context_, claim_context_;
  v1::SubscribeOffersRequest request_;
  v1::TaskOffer offer_;
  v1::RespondToOfferRequest accept_;
  v1::RespondToOfferResponse claim_;
  Clock::time_point received_;
  std::mutex mutex_;
  std::condition_variable finished_;
  bool done_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  const std::string validator = Flag(argc, argv, "validator", "");
  const std::filesystem::path work = Flag(argc, argv, "work", "");
  const int miners = std::stoi(Flag(argc, argv, "miners", "500"));
  const int tasks = std::stoi(Flag(argc, argv, "tasks", "20"));
  const int64_t upload_mib = std::stoll(Flag(argc, argv, "upload-mib", "1024"));
  const std::string model = Flag(argc, argv, "model", "");
  if (validator.empty() || work.empty() || model.empty()) {
    std::fprintf(stderr, "usage: validator_bench --validator PATH --work DIR --model MODEL_DIR [--miners N] "
                         "[--tasks N] [--upload-mib N]\n");
    return 2;
  }
  std::filesystem::create_directories(work);
  {
    std::ofstream data(work / "qa.jsonl");
    for (int i = 0; i < 200; ++i) data << "{\"q\": \"" << i << " plus 1\", \"a\": \"" << i + 1 << "\"}\n";
  }
  const nlohmann::json config = {
      {"data_dir", (work / "data").string()},
      {"gateway", {{"listen", "127.0.0.1:0"}, {"miner_max_streams", 8}}},
      {"admin", {{"listen", "127.0.0.1:0"}}},
      {"auth", {{"validator_id", "bench"}}},
      {"log", {{"level", "warn"}}},
      {"offers", {{"window_ms", 600'000}, {"wave_interval_ms", 100}}},
      {"uploads", {{"max_bytes_allowance", (upload_mib + 64) << 20}, {"sync_interval_bytes", 256 << 20}}},
      {"models", {{{"path", model}, {"name", "model"}}}},
      {"datasets", {{{"path", (work / "qa.jsonl").string()}, {"name", "qa"}}}}};
  std::ofstream(work / "validator.json") << config.dump();
  const pid_t pid = fork();
  if (pid == 0) {
    execl(validator.c_str(), validator.c_str(), "--config", (work / "validator.json").c_str(), nullptr);
    _exit(127);
  }
  nlohmann::json ports;
  for (int i = 0; i < 600 && ports.empty(); ++i) {
    auto text = gradients::common::ReadFileToString(work / "data" / "ports.json", 4096);
    if (text.ok()) ports = nlohmann::json::parse(*text);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (ports.empty()) {
    std::fprintf(stderr, "the validator did not start\n");
    return 1;
  }
  const std::string gateway = "127.0.0.1:" + std::to_string(ports["gateway"].get<int>());
  const std::string admin = "127.0.0.1:" + std::to_string(ports["admin"].get<int>());
  // A few channels shared by all miners, as many processes behind one NAT would not, but enough
  // to keep the client side from being what is measured.
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < 8; ++i) {
    grpc::ChannelArguments arguments;
    arguments.SetInt("grpc.channel_id", i);  // distinct channels, not one shared subchannel
    channels.push_back(grpc::CreateCustomChannel(gateway, grpc::InsecureChannelCredentials(), arguments));
  }
  const int64_t rss_before = ResidentKiB(pid);

  // Miners connect and subscribe; each accepts the first offer it gets.
  std::vector<Miner> fleet(static_cast<size_t>(miners));
  Claims claims;
  for (size_t i = 0; i < fleet.size(); ++i) {
    fleet[i].stub = v1::MinerGateway::NewStub(channels[i % channels.size()]);
    fleet[i].token = Authenticate(*fleet[i].stub, fleet[i].key);
    fleet[i].offers = std::make_unique<OfferReader>(fleet[i], claims);
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const int64_t rss_connected = ResidentKiB(pid);
  auto admin_stub = v1::Admin::NewStub(grpc::CreateChannel(admin, grpc::InsecureChannelCredentials()));
  for (int t = 0; t < tasks; ++t) {
    v1::CreateTaskRequest create;
    create.set_type(v1::TASK_TYPE_INSTRUCT);
    create.set_base_model("model");
    create.set_dataset("qa");
    (*create.mutable_column_mapping()->mutable_columns())["instruction"] = "q";
    (*create.mutable_column_mapping()->mutable_columns())["output"] = "a";
    create.set_duration_seconds(3600);
    create.set_min_pool_size(1);
    create.set_max_pool_size(8);
    v1::CreateTaskResponse created;
    grpc::Status status = admin_stub->CreateTask(Context().get(), create, &created);
    if (!status.ok()) std::fprintf(stderr, "create: %s\n", status.error_message().c_str());
  }
  const int expected = std::min(miners, tasks * 8);
  const std::vector<double> latencies_ms = claims.Await(expected, std::chrono::seconds(60));
  for (Miner& miner : fleet) miner.offers->Stop();

  std::printf("miners connected: %d, claims: %zu of %d\n", miners, latencies_ms.size(), expected);
  std::printf("offer-to-claim latency: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", Percentile(latencies_ms, 0.5),
              Percentile(latencies_ms, 0.99), Percentile(latencies_ms, 1.0));
  std::printf("validator RSS: %lld KiB idle, %lld KiB with %d streams: %.1f KiB per connected miner\n",
              static_cast<long long>(rss_before), static_cast<long long>(rss_connected), miners,
              static_cast<double>(rss_connected - rss_before) / miners);

  // Upload throughput: one miner, one claim, one checkpoint of upload_mib MiB.
  if (upload_mib > 0) {
    // A miner that holds a claim.
    size_t index = 0;
    v1::GetMyResultsResponse mine;
    for (; index < fleet.size(); ++index) {
      (void)fleet[index].stub->GetMyResults(Context(fleet[index].token).get(), v1::GetMyResultsRequest(), &mine);
      if (mine.results_size() > 0) break;
    }
    Miner& uploader = fleet[std::min(index, fleet.size() - 1)];
    if (mine.results_size() == 0) {
      std::fprintf(stderr, "the uploader holds no claim\n");
    } else {
      const std::string task_id = mine.results(0).task_id();
      v1::RespondToOfferRequest again;
      again.set_task_id(task_id);
      again.set_decision(v1::OFFER_DECISION_ACCEPT);
      v1::RespondToOfferResponse claim;
      (void)uploader.stub->RespondToOffer(Context(uploader.token).get(), again, &claim);
      std::string weights(static_cast<size_t>(upload_mib) << 20, '\0');
      std::mt19937_64 random(7);
      for (size_t i = 0; i + 8 <= weights.size(); i += 8) {
        const uint64_t value = random();
        std::memcpy(weights.data() + i, &value, 8);
      }
      const std::string config_json = R"({"peft_type": "LORA", "r": 8})";
      gradients::common::CheckpointManifest manifest{.kind = gradients::common::CheckpointKind::kLoraAdapter, .files = {}};
      for (const std::string* content : {&config_json, static_cast<const std::string*>(&weights)}) {
        manifest.files.push_back(
            {.path = content == &config_json ? "adapter_config.json" : "adapter_model.safetensors",
             .size_bytes = content->size(), .algorithm = gradients::common::DigestAlgorithm::kBlake2b256,
             .digest = gradients::common::ComputeDigest(gradients::common::DigestAlgorithm::kBlake2b256, *content)});
      }
      // A warm-up copy, not timed: on a virtual machine the first use of memory the guest has not
      // touched before is slow (measured here: ~340 MB/s for a first write to tmpfs, ~1.9 GB/s for
      // the next), and the page cache of both timed runs should not pay for it.
      (void)gradients::common::WriteFileDurably(work / "warm-up.bin", weights);
      std::filesystem::remove(work / "warm-up.bin");
      // The baseline: the same bytes written durably to a file on the same disk.
      const auto copy_started = Clock::now();
      (void)gradients::common::WriteFileDurably(work / "copy.bin", weights);
      const double copy_s = std::chrono::duration<double>(Clock::now() - copy_started).count();
      std::filesystem::remove(work / "copy.bin");

      const auto started = Clock::now();
      v1::UploadReceipt receipt;
      auto context = Context(uploader.token, 600);
      auto writer = uploader.stub->UploadCheckpoint(context.get(), &receipt);
      v1::UploadMessage message;
      message.mutable_begin()->set_task_id(task_id);
      message.mutable_begin()->set_claim_nonce(claim.claim().claim_nonce());
      gradients::proto::ToProto(manifest, message.mutable_begin()->mutable_manifest());
      writer->Write(message);
      // One message reused, each chunk copied into it once (as a miner reading its file would).
      v1::UploadMessage chunk;
      for (size_t file = 0; file < 2; ++file) {
        const std::string& content = file == 0 ? config_json : weights;
        for (size_t offset = 0; offset < content.size(); offset += 1 << 20) {
          chunk.mutable_chunk()->set_file_index(static_cast<uint32_t>(file));
          chunk.mutable_chunk()->set_offset(offset);
          chunk.mutable_chunk()->set_data(content.data() + offset, std::min<size_t>(1 << 20, content.size() - offset));
          if (!writer->Write(chunk)) break;
        }
      }
      const std::string& nonce = claim.claim().claim_nonce();
      gradients::common::SignedEnvelope envelope = *gradients::common::SignEnvelope(
          gradients::common::CheckpointEnvelope("bench", task_id, uploader.key.public_key(),
                                        std::span(reinterpret_cast<const uint8_t*>(nonce.data()), nonce.size()),
                                        gradients::common::CheckpointManifestDigest(manifest), 0),
          uploader.key);
      v1::UploadMessage end;
      (void)gradients::proto::ToProto(envelope, end.mutable_end()->mutable_envelope());
      writer->Write(end);
      writer->WritesDone();
      const grpc::Status status = writer->Finish();
      const double upload_s = std::chrono::duration<double>(Clock::now() - started).count();
      const double mb = static_cast<double>(weights.size()) / 1e6;
      if (!status.ok()) std::fprintf(stderr, "upload: %s\n", status.error_message().c_str());
      std::printf("upload of %lld MiB: %.2f s, %.0f MB/s (receipt %s); durable file copy: %.2f s, %.0f MB/s\n",
                  static_cast<long long>(upload_mib), upload_s, mb / upload_s, receipt.receipt_id().c_str(), copy_s,
                  mb / copy_s);
      // The validator keeps freed blocks for reuse (validator_main.cpp): what that holds after an upload.
      std::printf("validator RSS after the upload: %lld KiB\n", static_cast<long long>(ResidentKiB(pid)));
    }
  }
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  return 0;
}
