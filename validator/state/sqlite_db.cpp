#include "validator/state/sqlite_db.h"

#include <sqlite3.h>

#include <utility>

namespace gradients::validator {

namespace {

// The status for an SQLite result code (extended codes carry the primary one in their low byte).
common::Status SqliteStatus(int code, std::string message) {
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return common::Status::Unavailable(std::move(message));
    case SQLITE_CONSTRAINT:
      return common::Status::FailedPrecondition(std::move(message));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return common::Status::DataLoss(std::move(message));
    default:
      return common::Status::IoError(std::move(message));
  }
}

}  // namespace

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : db_(other.db_),
      statement_(other.statement_),
      reusable_(other.reusable_),
      bind_error_(std::move(other.bind_error_)) {
  other.statement_ = nullptr;
}

SqliteStatement::~SqliteStatement() {
  if (statement_ == nullptr) return;
  if (reusable_) {
    db_->Release(statement_);
  } else {
    sqlite3_finalize(statement_);
  }
}

std::string SqliteStatement::Context() const {
  const char* sql = sqlite3_sql(statement_);
  return db_->path_.string() + ": \"" + std::string(sql != nullptr ? sql : "").substr(0, 60) + "\"";
}

common::Status SqliteStatement::BindError(int index, int code) {
  return common::Status::Internal(Context() + ": binding parameter " + std::to_string(index) + ": " + sqlite3_errstr(code));
}

SqliteStatement& SqliteStatement::Bind(int index, std::string_view text) {
  // An empty view may have no data pointer, which SQLite would bind as NULL rather than ''.
  const char* data = text.data() != nullptr ? text.data() : "";
  const int code = sqlite3_bind_text(statement_, index, data, static_cast<int>(text.size()), SQLITE_TRANSIENT);
  if (code != SQLITE_OK && bind_error_.ok()) bind_error_ = BindError(index, code);
  return *this;
}

SqliteStatement& SqliteStatement::Bind(int index, int64_t value) {
  const int code = sqlite3_bind_int64(statement_, index, value);
  if (code != SQLITE_OK && bind_error_.ok()) bind_error_ = BindError(index, code);
  return *this;
}

SqliteStatement& SqliteStatement::BindReal(int index, double value) {
  const int code = sqlite3_bind_double(statement_, index, value);
  if (code != SQLITE_OK && bind_error_.ok()) bind_error_ = BindError(index, code);
  return *this;
}

common::Result<bool> SqliteStatement::Step() {
  if (!bind_error_.ok()) return bind_error_;
  const int code = sqlite3_step(statement_);
  if (code == SQLITE_ROW) return true;
  if (code == SQLITE_DONE) return false;
  return SqliteStatus(code, Context() + ": " + sqlite3_errmsg(db_->db_));
}

common::Status SqliteStatement::Run() {
  for (;;) {
    common::Result<bool> row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return common::Status::Ok();
  }
}

std::string SqliteStatement::Text(int column) const {
  const unsigned char* text = sqlite3_column_text(statement_, column);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(sqlite3_column_bytes(statement_, column)));
}

int64_t SqliteStatement::Integer(int column) const { return sqlite3_column_int64(statement_, column); }

double SqliteStatement::Real(int column) const { return sqlite3_column_double(statement_, column); }

bool SqliteStatement::IsNull(int column) const { return sqlite3_column_type(statement_, column) == SQLITE_NULL; }

common::Result<std::unique_ptr<SqliteDatabase>> SqliteDatabase::Open(const std::filesystem::path& path) {
  sqlite3* handle = nullptr;
  const int code = sqlite3_open_v2(path.c_str(), &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  std::unique_ptr<SqliteDatabase> db(new SqliteDatabase(handle, path));
  if (code != SQLITE_OK) return db->Error("opening the database", code);
  sqlite3_extended_result_codes(handle, 1);
  // Before anything else: another process (the daemon, `gradients model add`) may hold the lock.
  sqlite3_busy_timeout(handle, 5000);
  // The write-ahead log lets readers run beside the writer; FULL syncs it at every commit, so an
  // acknowledged write survives a power cut. journal_mode answers with the mode it took.
  common::Result<SqliteStatement> wal = db->Prepare("PRAGMA journal_mode=WAL");
  if (!wal.ok()) return wal.status();
  common::Result<bool> row = wal->Step();
  if (!row.ok()) return row.status();
  if (!*row || wal->Text(0) != "wal") {
    return common::Status::FailedPrecondition(path.string() + ": the database cannot use write-ahead logging (journal mode \"" +
                                      (*row ? wal->Text(0) : std::string()) + "\")");
  }
  GRADIENTS_RETURN_IF_ERROR(db->Execute("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"));
  // A file that is not a database fails here, on its first read, with a message naming it.
  GRADIENTS_RETURN_IF_ERROR(db->SchemaVersion().status());
  return db;
}

SqliteDatabase::~SqliteDatabase() {
  for (auto& [sql, statements] : idle_statements_) {
    for (sqlite3_stmt* statement : statements) sqlite3_finalize(statement);
  }
  sqlite3_close_v2(db_);
}

common::Status SqliteDatabase::Error(std::string_view what, int code) const {
  return SqliteStatus(code, path_.string() + ": " + std::string(what) + ": " +
                                (db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(code)));
}

common::Result<SqliteStatement> SqliteDatabase::Prepare(std::string_view sql) {
  if (auto idle = idle_statements_.find(sql); idle != idle_statements_.end() && !idle->second.empty()) {
    sqlite3_stmt* statement = idle->second.back();
    idle->second.pop_back();
    --idle_count_;
    return SqliteStatement(this, statement, true);
  }
  sqlite3_stmt* statement = nullptr;
  const int code = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                      &statement, nullptr);
  if (code != SQLITE_OK) return Error("preparing \"" + std::string(sql.substr(0, 60)) + "\"", code);
  if (statement == nullptr) {
    return common::Status::InvalidArgument(path_.string() + ": no SQL statement in \"" + std::string(sql) + "\"");
  }
  // Kept for reuse only when the whole text is this statement (sqlite3_sql names it in Release).
  return SqliteStatement(this, statement, sql == sqlite3_sql(statement));
}

void SqliteDatabase::Release(sqlite3_stmt* statement) {
  // reset ends the statement's read of the database; its result was reported when it ran.
  sqlite3_reset(statement);
  sqlite3_clear_bindings(statement);
  if (idle_count_ >= kMaxIdleStatements) {
    sqlite3_finalize(statement);
    return;
  }
  const std::string_view sql = sqlite3_sql(statement);
  auto idle = idle_statements_.find(sql);
  if (idle == idle_statements_.end()) idle = idle_statements_.emplace(sql, std::vector<sqlite3_stmt*>()).first;
  idle->second.push_back(statement);
  ++idle_count_;
}

common::Status SqliteDatabase::Execute(std::string_view sql) {
  // One statement (BEGIN, COMMIT, SAVEPOINT...) runs as a reusable prepared statement.
  if (sql.find(';') == std::string_view::npos) {
    common::Result<SqliteStatement> statement = Prepare(sql);
    if (!statement.ok()) return statement.status();
    return statement->Run();
  }
  const std::string text(sql);
  char* error = nullptr;
  const int code = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error);
  if (code == SQLITE_OK) return common::Status::Ok();
  common::Status status = Error("executing \"" + text.substr(0, 60) + "\"", code);
  sqlite3_free(error);
  return status;
}

int64_t SqliteDatabase::Changes() const { return sqlite3_changes64(db_); }

int64_t SqliteDatabase::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }

common::Result<int64_t> SqliteDatabase::SchemaVersion() {
  common::Result<SqliteStatement> statement = Prepare("PRAGMA user_version");
  if (!statement.ok()) return statement.status();
  common::Result<bool> row = statement->Step();
  if (!row.ok()) return common::Status(row.status().code(), path_.string() + ": reading the schema version: " +
                                                        row.status().message());
  return *row ? statement->Integer(0) : 0;
}

common::Status SqliteDatabase::Migrate(const std::vector<std::string>& migrations) {
  const auto known = static_cast<int64_t>(migrations.size());
  for (;;) {
    // The version is read inside the write transaction: another process opening the same file at
    // the same time (the daemon and `gradients model add`) may have just applied a migration.
    common::Result<Transaction> transaction = Begin();
    if (!transaction.ok()) return transaction.status();
    common::Result<int64_t> version = SchemaVersion();
    if (!version.ok()) return version.status();
    if (*version > known) {
      return common::Status::FailedPrecondition(path_.string() + ": schema version " + std::to_string(*version) +
                                        " is newer than this program's " + std::to_string(known) +
                                        " (written by a newer release?)");
    }
    if (*version == known) return transaction->Commit();
    GRADIENTS_RETURN_IF_ERROR(Execute(migrations[static_cast<size_t>(*version)])
                                  .WithContext("schema migration " + std::to_string(*version + 1)));
    GRADIENTS_RETURN_IF_ERROR(Execute("PRAGMA user_version=" + std::to_string(*version + 1)));
    GRADIENTS_RETURN_IF_ERROR(transaction->Commit());
  }
}

common::Result<SqliteDatabase::Transaction> SqliteDatabase::Begin() {
  GRADIENTS_RETURN_IF_ERROR(Execute("BEGIN IMMEDIATE"));
  return Transaction(this);
}

common::Status SqliteDatabase::Transaction::Commit() {
  SqliteDatabase* db = db_;
  db_ = nullptr;
  common::Status status = db->Execute("COMMIT");
  // A commit that failed (a full disk, say) may leave the transaction open: nothing of it stays.
  if (!status.ok()) (void)db->Execute("ROLLBACK");
  return status;
}

SqliteDatabase::Transaction::~Transaction() {
  if (db_ != nullptr) (void)db_->Execute("ROLLBACK");
}

}  // namespace gradients::validator
