#include "miner/job_journal.h"

#include <gtest/gtest.h>

#include <fstream>

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
  ASSERT_TRUE(RecordNewJob(job, claim, "validator/with odd id", "tpe").ok());
  std::vector<JobListing> jobs = ListJobs(dir.path());
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].validator_id, "validator/with odd id");
  ASSERT_TRUE(jobs[0].status.ok()) << jobs[0].status.status().ToString();
  EXPECT_EQ(jobs[0].status->phase, "fetching");
  EXPECT_EQ(jobs[0].status->deadline_ms, 1'800'000'000'000);
  EXPECT_EQ(LoadJobClaim(job)->task_id(), "task-1");

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

}  // namespace
}  // namespace gradients::miner
