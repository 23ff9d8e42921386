// The SQLite layer's statement reuse: a statement compiled once runs again with only its new
// bindings, several of one SQL text may be open at once, and one dropped before its last row
// holds no read of the database.
#include "validator/state/sqlite_db.h"

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

namespace gradients::validator {
namespace {

std::unique_ptr<SqliteDatabase> OpenWithRows(const std::filesystem::path& path) {
  common::Result<std::unique_ptr<SqliteDatabase>> db = SqliteDatabase::Open(path);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_TRUE((*db)->Execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, name TEXT)").ok());
  for (const char* name : {"one", "two", "three"}) {
    common::Result<SqliteStatement> insert = (*db)->Prepare("INSERT INTO rows (name) VALUES (?1)");
    EXPECT_TRUE(insert.ok() && insert->Bind(1, name).Run().ok());
  }
  return std::move(*db);
}

TEST(SqliteDatabase, AStatementPreparedAgainRunsWithItsNewBindingsOnly) {
  testing::TempDir dir;
  std::unique_ptr<SqliteDatabase> db = OpenWithRows(dir / "state.db");
  for (int round = 0; round < 2; ++round) {
    common::Result<SqliteStatement> select = db->Prepare("SELECT ?1, ?2");
    ASSERT_TRUE(select.ok());
    if (round == 0) {
      select->Bind(1, "a").Bind(2, "b");
    } else {
      select->Bind(1, "c");  // ?2 left unbound: NULL, not the first round's "b"
    }
    ASSERT_TRUE(*select->Step());
    EXPECT_EQ(select->Text(0), round == 0 ? "a" : "c");
    EXPECT_EQ(select->IsNull(1), round == 1);
  }
  common::Result<SqliteStatement> count = db->Prepare("SELECT COUNT(*) FROM rows");
  ASSERT_TRUE(count.ok() && *count->Step());
  EXPECT_EQ(count->Integer(0), 3);
}

TEST(SqliteDatabase, TheSameStatementMayBeOpenTwiceAtOnce) {
  testing::TempDir dir;
  std::unique_ptr<SqliteDatabase> db = OpenWithRows(dir / "state.db");
  const std::string sql = "SELECT name FROM rows WHERE id >= ?1 ORDER BY id";
  common::Result<SqliteStatement> outer = db->Prepare(sql);
  ASSERT_TRUE(outer.ok());
  outer->Bind(1, int64_t{1});
  std::vector<std::string> pairs;
  while (*outer->Step()) {
    common::Result<SqliteStatement> inner = db->Prepare(sql);
    ASSERT_TRUE(inner.ok());
    inner->Bind(1, int64_t{3});
    ASSERT_TRUE(*inner->Step());
    pairs.push_back(outer->Text(0) + "/" + inner->Text(0));
  }
  EXPECT_EQ(pairs, (std::vector<std::string>{"one/three", "two/three", "three/three"}));
}

TEST(SqliteDatabase, AStatementDroppedBeforeItsLastRowHoldsNoReadOfTheDatabase) {
  testing::TempDir dir;
  std::unique_ptr<SqliteDatabase> db = OpenWithRows(dir / "state.db");
  {
    common::Result<SqliteStatement> select = db->Prepare("SELECT name FROM rows ORDER BY id");
    ASSERT_TRUE(select.ok() && *select->Step());  // one row of three, then dropped
  }
  // Another connection writes and checkpoints the whole log away: a read still open on the first
  // connection would pin the log (the checkpoint reports busy = 1).
  std::unique_ptr<SqliteDatabase> other = std::move(*SqliteDatabase::Open(dir / "state.db"));
  ASSERT_TRUE(other->Execute("INSERT INTO rows (name) VALUES ('four')").ok());
  common::Result<SqliteStatement> checkpoint = other->Prepare("PRAGMA wal_checkpoint(TRUNCATE)");
  ASSERT_TRUE(checkpoint.ok() && *checkpoint->Step());
  EXPECT_EQ(checkpoint->Integer(0), 0) << "the checkpoint was blocked by a reader";
  common::Result<SqliteStatement> count = db->Prepare("SELECT COUNT(*) FROM rows");
  ASSERT_TRUE(count.ok() && *count->Step());
  EXPECT_EQ(count->Integer(0), 4);
}

TEST(SqliteDatabase, AFailingStatementIsReportedWithTheDatabaseAndItsSql) {
  testing::TempDir dir;
  std::unique_ptr<SqliteDatabase> db = OpenWithRows(dir / "state.db");
  for (int round = 0; round < 2; ++round) {  // the second time from the reused statement
    common::Result<SqliteStatement> insert = db->Prepare("INSERT INTO rows (id, name) VALUES (?1, ?2)");
    ASSERT_TRUE(insert.ok());
    const common::Status status = insert->Bind(1, int64_t{1}).Bind(2, "again").Run();
    EXPECT_EQ(status.code(), common::StatusCode::kFailedPrecondition);
    EXPECT_NE(status.message().find((dir / "state.db").string()), std::string::npos) << status.message();
    EXPECT_NE(status.message().find("INSERT INTO rows"), std::string::npos) << status.message();
  }
  const common::Status missing = db->Execute("DELETE FROM no_such_table");
  EXPECT_NE(missing.message().find("no_such_table"), std::string::npos) << missing.message();
}

}  // namespace
}  // namespace gradients::validator
