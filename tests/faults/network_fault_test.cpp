// A faulty network between one miner and the validator (tests/support/tcp_proxy.h): chunks delayed,
// connections truncated, reset and refused. While the faults come and go, the upload resumes from
// what the validator kept; when they last past the deadline it fails cleanly, nothing of it
// recorded as a submission. The miners that connect directly are unaffected either way.
#include <gtest/gtest.h>

#include "tests/faults/market.h"
#include "tests/support/tcp_proxy.h"

namespace gradients::testing {
namespace {

using namespace std::chrono_literals;

// Polls `condition` every 10 ms; false after `timeout`.
bool WaitUntil(const std::function<bool()>& condition, std::chrono::seconds timeout) {
  for (const auto give_up = std::chrono::steady_clock::now() + timeout; std::chrono::steady_clock::now() < give_up;
       std::this_thread::sleep_for(10ms)) {
    if (condition()) return true;
  }
  return false;
}

size_t Occurrences(const std::string& text, const std::string& part) {
  size_t count = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
  return count;
}

class NetworkFaultTest : public MarketTest {
 protected:
  // Two miners straight to the validator and one behind the proxy, its upload paced at `bytes_per_second`
  // in 4 KiB chunks (the adapters here are about 75 KB); a task of `seconds` for the three.
  void StartMiners(uint64_t bytes_per_second, int seconds) {
    proxy_ = std::make_unique<testing::TcpProxy>(validator_->gateway());
    proxy_->SetDelay(20ms);  // every chunk, both ways, all along
    miners_.push_back(MakeMiner("direct-0", validator_->gateway(), TokenBudgetStrategy(1e-2, 1500)));
    miners_.push_back(MakeMiner("direct-1", validator_->gateway(), TokenBudgetStrategy(3e-2, 1500)));
    miners_.push_back(MakeMiner("behind-proxy", proxy_->address(), TokenBudgetStrategy(3e-3, 1500),
                                {{"upload", {{"chunk_bytes", 4096}, {"max_bytes_per_second", bytes_per_second}}}}));
    for (auto& miner : miners_) miner->Start();
    WaitForConnectedMiners(*validator_, 3);
    task_id_ = miner::CreateTestTask(validator_->admin(), seconds, 3);
  }
  miner::MinerProcess& proxied() { return *miners_.back(); }
  std::optional<KeptPart> ProxiedPart() { return KeptPartOf(*validator_, task_id_, proxied().public_key()); }
  // Once the validator receives the proxied miner's upload (it has opened the part).
  bool WaitForTheProxiedUpload() {
    return WaitUntil(
        [&] {
          const std::optional<miner::JobStatus> job = proxied().Job(task_id_);
          return job && job->phase == miner::JobPhase::kUploading && ProxiedPart().has_value();
        },
        60s);
  }
  // The scored task, with the two direct miners scored and submitted.
  v1::GetTaskResponse ScoredTask() {
    const v1::GetTaskResponse task = WaitForScores(*validator_, task_id_);
    EXPECT_EQ(task.task().status(), v1::TASK_STATUS_SCORED)
        << task.task().failure_reason() << Logs(*validator_, miners_);
    std::map<std::string, v1::Submission> scores = ByMiner(task);
    EXPECT_EQ(scores.size(), 3u);
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_EQ(scores[miners_[i]->public_key()].status(), v1::SUBMISSION_STATUS_SCORED);
      const std::optional<miner::JobStatus> job = miners_[i]->Job(task_id_);
      EXPECT_TRUE(job && job->phase == miner::JobPhase::kSubmitted);
    }
    return task;
  }

  std::unique_ptr<testing::TcpProxy> proxy_;
  std::vector<std::unique_ptr<miner::MinerProcess>> miners_;
  std::string task_id_;
};

TEST_F(NetworkFaultTest, AnUploadWhoseConnectionIsDelayedTruncatedResetAndRefusedResumesFromTheKeptBytesAndIsScored) {
  StartMiners(20'000, 25);  // time for a retry after each fault
  ASSERT_TRUE(WaitForTheProxiedUpload()) << Logs(*validator_, miners_);

  // Truncated: the connection is cut 12 KiB on. The validator keeps (syncs) what arrived.
  const int64_t resets = proxy_->resets();
  proxy_->SetUpstreamLimit(12 * 1024);
  ASSERT_TRUE(WaitUntil([&] { return proxy_->resets() > resets; }, 20s)) << Logs(*validator_, miners_);
  proxy_->SetUpstreamLimit(std::nullopt);
  ASSERT_TRUE(WaitUntil([&] { return ProxiedPart() && ProxiedPart()->durable_bytes() > 0; }, 10s));
  const uint64_t kept_at_cut = ProxiedPart()->durable_bytes();

  // Reset, once the resumed upload has sent 16 KiB more, and refused for a while.
  const uint64_t upstream = proxy_->upstream_bytes();
  ASSERT_TRUE(WaitUntil([&] { return proxy_->upstream_bytes() > upstream + 16 * 1024; }, 20s))
      << Logs(*validator_, miners_);
  proxy_->SetRefuseNew(true);
  proxy_->ResetAll();
  ASSERT_TRUE(WaitUntil([&] { return ProxiedPart() && ProxiedPart()->durable_bytes() > kept_at_cut; }, 10s))
      << "the resumed stream's bytes were kept too";
  std::this_thread::sleep_for(1s);
  proxy_->SetRefuseNew(false);

  v1::GetTaskResponse task = ScoredTask();
  ASSERT_EQ(task.task().status(), v1::TASK_STATUS_SCORED);
  const v1::Submission submission = ByMiner(task)[proxied().public_key()];
  EXPECT_EQ(submission.status(), v1::SUBMISSION_STATUS_SCORED) << submission.status_reason();
  const std::optional<miner::JobStatus> job = proxied().Job(task_id_);
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->phase, miner::JobPhase::kSubmitted) << job->detail;
  EXPECT_EQ(job->receipt_id, submission.receipt_id());
  // Each new stream went on from the validator's durable offsets, and once complete the kept part
  // made way for the submission.
  EXPECT_GE(Occurrences(proxied().Log(), "resuming the upload at "), 2u) << proxied().Log();
  EXPECT_FALSE(ProxiedPart().has_value());
  EXPECT_GE(proxy_->resets(), resets + 2);
  for (auto& miner : miners_) EXPECT_EQ(miner->Stop(), 0);
  EXPECT_EQ(validator_->Stop(), 0);
}

TEST_F(NetworkFaultTest, AnUploadCutOffUntilTheDeadlineFailsCleanlyAndNothingOfItIsRecordedAsASubmission) {
  StartMiners(10'000, 20);
  ASSERT_TRUE(WaitForTheProxiedUpload()) << Logs(*validator_, miners_);
  const uint64_t upstream = proxy_->upstream_bytes();
  ASSERT_TRUE(WaitUntil([&] { return proxy_->upstream_bytes() > upstream + 16 * 1024; }, 20s));
  proxy_->SetRefuseNew(true);
  proxy_->ResetAll();
  // What arrived is kept as a part for a resume (durable offsets short of the files' sizes).
  // (made durable when the validator sees the stream break).
  ASSERT_TRUE(WaitUntil(
      [&] {
        const std::optional<KeptPart> kept = ProxiedPart();
        return kept.has_value() && kept->durable_bytes() > 0;
      },
      20s));
  const KeptPart part = *ProxiedPart();

  // The miner gives up at the deadline, saying why; the daemon goes on.
  ASSERT_TRUE(proxied().WaitForJob(
      task_id_, [](const miner::JobStatus& job) { return job.finished(); }, 60s))
      << proxied().Log();
  const miner::JobStatus job = *proxied().Job(task_id_);
  EXPECT_EQ(job.phase, miner::JobPhase::kFailed);
  EXPECT_NE(job.detail.find("the validator stayed out of reach until the deadline"), std::string::npos) << job.detail;
  EXPECT_TRUE(job.receipt_id.empty());

  v1::GetTaskResponse task = ScoredTask();
  ASSERT_EQ(task.task().status(), v1::TASK_STATUS_SCORED);
  const std::string key = proxied().public_key();
  const v1::Submission missing = ByMiner(task)[key];
  EXPECT_EQ(missing.status(), v1::SUBMISSION_STATUS_MISSING);
  EXPECT_EQ(missing.points(), -1);
  EXPECT_TRUE(missing.receipt_id().empty());
  // Nothing half-recorded: no submissions row, and none of the checkpoint's files in the blob store;
  // once the task is scored the part is gone too, its record and its files.
  EXPECT_FALSE(HasSubmissionRow(*validator_, task_id_, key));
  uint64_t size = 0;
  for (const nlohmann::json& file : part.manifest["files"]) {
    size += file["size"].get<uint64_t>();
    const std::string digest = file["digest"];
    EXPECT_FALSE(std::filesystem::exists(dir_.path() / "data" / "blobs" / digest.substr(0, 2) / digest)) << digest;
  }
  EXPECT_GT(part.durable_bytes(), 0u);
  EXPECT_LT(part.durable_bytes(), size);
  EXPECT_FALSE(ProxiedPart().has_value());
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path() / "data" / "uploads")) << validator_->Log();
  // The two others won and lost; the weights name only the winner.
  const std::map<std::string, double> weights = PublishedWeights(*validator_);
  ASSERT_EQ(weights.size(), 1u) << validator_->Log();
  EXPECT_EQ(weights.begin()->second, 1.0);
  EXPECT_FALSE(weights.contains(key));
  for (auto& miner : miners_) EXPECT_EQ(miner->Stop(), 0);
  EXPECT_EQ(validator_->Stop(), 0);
}

// gRPC gives each connection attempt until max(the current backoff, grpc.min_reconnect_backoff_ms),
// its "minimum connect timeout": a miner that set that to its reconnect backoff gave up on every
// handshake slower than the backoff, and with a short max_backoff_ms never connected at all.
TEST_F(MarketTest, AMinerConnectsOverALinkWhoseHandshakeTakesLongerThanItsReconnectBackoff) {
  testing::TcpProxy slow_link(validator_->gateway());
  slow_link.SetDelay(300ms);  // the validator's SETTINGS frame arrives 300 ms after the connection opens
  std::unique_ptr<miner::MinerProcess> miner =
      MakeMiner("miner", slow_link.address(), TokenBudgetStrategy(1e-2, 1500),
                {{"reconnect", {{"initial_backoff_ms", 100}, {"max_backoff_ms", 200}}}});
  miner->Start();
  WaitForConnectedMiners(*validator_, 1, 20s);
  EXPECT_EQ(miner->Stop(), 0);
  EXPECT_EQ(validator_->Stop(), 0);
}

}  // namespace
}  // namespace gradients::testing
