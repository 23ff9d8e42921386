#include "miner/offer_loop.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <atomic>
#include <thread>

#include "proto/timestamps.h"
#include "tests/miner/validator_process.h"
#include "tests/support/temp_dir.h"

namespace gradients::miner {
namespace {

// The declines the validator recorded for `task`: "REASON: detail", read from its database.
std::vector<std::string> Declines(const std::filesystem::path& database, const std::string& task) {
  sqlite3* db = nullptr;
  std::vector<std::string> found;
  if (sqlite3_open_v2(database.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* select = nullptr;
    sqlite3_prepare_v2(db, "SELECT reason, detail FROM declines WHERE task_id = ?1", -1, &select, nullptr);
    sqlite3_bind_text(select, 1, task.c_str(), -1, SQLITE_TRANSIENT);
    while (sqlite3_step(select) == SQLITE_ROW) {
      found.push_back(std::string(reinterpret_cast<const char*>(sqlite3_column_text(select, 0))) + ": " +
                      reinterpret_cast<const char*>(sqlite3_column_text(select, 1)));
    }
    sqlite3_finalize(select);
  }
  sqlite3_close(db);
  return found;
}

class OfferLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    validator_ = std::make_unique<ValidatorProcess>(dir_.path(), TestModelAndDataset(dir_.path(), 20));
    ASSERT_TRUE(validator_->Start());
  }
  std::string CreateTask(int seconds) { return CreateTestTask(validator_->admin(), seconds); }
  // Waits up to 20 s for `done`.
  static bool Eventually(const std::function<bool()>& done) {
    for (int i = 0; i < 400; ++i) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  testing::TempDir dir_;
  std::unique_ptr<ValidatorProcess> validator_;
};

TEST_F(OfferLoopTest, ClaimsWhatItCanFinishDeclinesTheRestWithReasonsAndComesBackAfterARestart) {
  const common::SigningKey key = common::SigningKey::Generate();
  std::unique_ptr<ValidatorConnection> connection = std::move(*ValidatorConnection::Open(
      {.address = validator_->gateway(), .validator_id = "validator-under-test", .tls_ca_file = ""}, key, "test",
      {.initial_backoff_ms = 100, .max_backoff_ms = 500}));
  std::mutex mutex;
  std::vector<std::string> claimed;
  // Jobs the miner runs for other validators: this one knows only its own claims, so the slots
  // they take are the miner's to refuse.
  std::atomic<int64_t> elsewhere{0};
  OfferLoopHooks hooks;
  hooks.active_jobs = [&] {
    std::lock_guard lock(mutex);
    return static_cast<int64_t>(claimed.size()) + elsewhere;
  };
  hooks.on_claim = [&](const JobClaim& claim) {
    EXPECT_FALSE(claim.message.claim_nonce().empty());
    EXPECT_EQ(claim.deadline, proto::DeadlineOf(claim.task().deadline()));  // converted where it arrived
    std::lock_guard lock(mutex);
    claimed.push_back(claim.task_id());
  };
  const auto has_claimed = [&](const std::string& task) {
    return [&, task] {
      std::lock_guard lock(mutex);
      return std::find(claimed.begin(), claimed.end(), task) != claimed.end();
    };
  };
  // Training at 1e12 FLOP/s: a few seconds for this model and data; the margin (10% + 60 s) decides.
  OfferLoop loop(
      *connection,
      {.capacity = {.max_model_parameters = 1'000'000'000, .max_concurrent_tasks = 2, .task_types = {"instruct"}},
       .device = "cpu",
       .throughput = {.flops_per_second = 1e12},
       .measured_tokens_per_second = 1000,
       .admission = {},
       .reconnect = {.initial_backoff_ms = 100, .max_backoff_ms = 500}},
      hooks, common::SystemClockMs);
  std::thread running([&] { EXPECT_TRUE(loop.Run().ok()); });
  struct Joined {
    OfferLoop& loop;
    std::thread& thread;
    ~Joined() {
      loop.Stop();
      if (thread.joinable()) thread.join();
    }
  } joined{loop, running};
  const auto first_decline = [&](const std::string& task) {
    std::vector<std::string> declines;
    Eventually([&] { return !(declines = Declines(validator_->database(), task)).empty(); });
    return declines.empty() ? std::string("(none)") : declines.front();
  };

  const std::string first = CreateTask(600);
  EXPECT_TRUE(Eventually(has_claimed(first))) << validator_->Log();
  const std::string rushed = CreateTask(61);  // 61 s less the margin leaves nothing
  EXPECT_TRUE(first_decline(rushed).starts_with("DECLINE_REASON_NOT_ENOUGH_TIME: needs about"))
      << first_decline(rushed);
  elsewhere = 1;  // with the claim above, both slots are busy
  const std::string busy = CreateTask(600);
  EXPECT_EQ(first_decline(busy), "DECLINE_REASON_BUSY: all 2 of this miner's slots are busy");

  // The validator restarts; the loop subscribes again on its own, and a freed slot takes a task:
  // the one created now, or the one declined for want of a slot, offered again after the restart.
  validator_->Kill();
  ASSERT_TRUE(validator_->Start());
  elsewhere = 0;
  const std::string after_restart = CreateTask(600);
  EXPECT_TRUE(Eventually([&] {
    std::lock_guard lock(mutex);
    return claimed.size() == 2;
  })) << validator_->Log();
  EXPECT_TRUE(has_claimed(after_restart)() || has_claimed(busy)());
  loop.Stop();
  running.join();
  connection.reset();  // an open channel would hold the validator's shutdown to its grace period
  EXPECT_EQ(validator_->Stop(), 0);
}

}  // namespace
}  // namespace gradients::miner
