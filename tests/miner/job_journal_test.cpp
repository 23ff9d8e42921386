#include "miner/job_journal.h"

#include <gtest/gtest.h>

#include <fstream>

#include "common/clock.h"
#include "common/config.h"
#include "common/durable_file.h"
#include "tests/support/temp_dir.h"

namespace gradients::miner {
namespace {

TEST(JobJournal, ATaskIdThatWouldLeaveTheJobsDirectoryIsRefused) {
  for (const char* bad : {"", "..", "../escape", "a/b", ".hidden", "task id", "t\n"}) {
    EXPECT_EQ(CheckJobTaskId(bad).code(), common::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(CheckJobTaskId(std::string(128, 'a')).ok());
  EXPECT_FALSE(CheckJobTaskId(std::string(129, 'a')).ok());
  EXPECT_TRUE(CheckJobTaskId("task-1c531e01853a574a").ok());
}

TEST(JobJournal, AJobIsListedUnderItsValidatorAndABrokenFileIsReportedNotTrusted) {
  testing::TempDir dir;
  v1::Claim claim;
  claim.set_task_id("task-1");
  claim.mutable_task()->mutable_deadline()->set_seconds(1'800'000'000);
  const std::filesystem::path job = JobDir(dir.path(), "validator/with odd id", "task-1");
  ASSERT_TRUE(RecordNewJob(job, ToJobClaim(claim), "validator/with odd id", "tpe").ok());
  std::vector<JobListing> jobs = ListJobs(dir.path());
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].validator_id, "validator/with odd id");
  ASSERT_TRUE(jobs[0].status.ok()) << jobs[0].status.status().ToString();
  EXPECT_EQ(jobs[0].status->phase, JobPhase::kFetching);
  EXPECT_EQ(common::MsOfTimePoint(jobs[0].status->deadline), 1'800'000'000'000);
  EXPECT_EQ(LoadJobClaim(job)->task_id(), "task-1");
  EXPECT_EQ(LoadJobClaim(job)->deadline, common::TimePointOfMs(1'800'000'000'000));

  // A torn job.json is an error naming it; the claim beside it still loads (the daemon resumes from it).
  std::ofstream(job / "job.json") << "{\"task_id\": ";
  jobs = ListJobs(dir.path());
  ASSERT_EQ(jobs.size(), 1u);
  ASSERT_FALSE(jobs[0].status.ok());
  EXPECT_NE(jobs[0].status.status().message().find("job.json"), std::string::npos);
  EXPECT_TRUE(LoadJobClaim(job).ok());
  std::ofstream(job / "claim.pb") << "not a claim";
  EXPECT_EQ(LoadJobClaim(job).status().code(), common::StatusCode::kDataLoss);
}

TEST(JobJournal, JobJsonKeepsItsSpellingsAndAnUnknownPhaseIsAnErrorNamingTheFileAndTheValue) {
  testing::TempDir dir;
  JobStatus status;
  status.task_id = "task-1";
  status.phase = JobPhase::kUploading;
  status.deadline = common::TimePointOfMs(1'800'000'000'123);
  ASSERT_TRUE(SaveJobStatus(dir.path(), status).ok());
  nlohmann::json json = *common::ReadJsonFile(dir.path() / "job.json");
  EXPECT_EQ(json["phase"], "uploading");
  EXPECT_EQ(json["deadline_ms"], 1'800'000'000'123);
  common::Result<JobStatus> loaded = LoadJobStatus(dir.path());
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->phase, JobPhase::kUploading);
  EXPECT_EQ(loaded->deadline, status.deadline);

  json["phase"] = "dreaming";
  ASSERT_TRUE(common::WriteFileDurably(dir.path() / "job.json", json.dump()).ok());
  EXPECT_EQ(LoadJobStatus(dir.path()).status().code(), common::StatusCode::kDataLoss);
  EXPECT_EQ(LoadJobStatus(dir.path()).status().message(),
            (dir.path() / "job.json").string() +
                ": phase: expected one of \"fetching\", \"training\", \"uploading\", \"submitted\", \"failed\", got "
                "\"dreaming\"");
}

}  // namespace
}  // namespace gradients::miner
