// A thin RAII layer over the SQLite C API: a connection opened for durability (WAL,
// synchronous=FULL, foreign keys on), prepared statements with typed binds and columns (compiled
// once per connection and reused), transactions that roll back unless committed, and numbered
// schema migrations. A connection and its statements are used by one thread at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace gradients::validator {

class SqliteDatabase;

class SqliteStatement {
 public:
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&&) = delete;
  SqliteStatement(const SqliteStatement&) = delete;
  ~SqliteStatement();

  // Parameters are numbered from 1, as in SQL's ?1, ?2...
  SqliteStatement& Bind(int index, std::string_view text);
  SqliteStatement& Bind(int index, int64_t value);
  // Not an overload of Bind: an int argument would be ambiguous between int64_t and double.
  SqliteStatement& BindReal(int index, double value);
  // Runs until the next row (true) or the end (false).
  common::Result<bool> Step();
  // Runs to the end, for statements that return no rows.
  common::Status Run();
  // Columns of the current row, numbered from 0.
  std::string Text(int column) const;
  int64_t Integer(int column) const;
  double Real(int column) const;
  bool IsNull(int column) const;

 private:
  friend class SqliteDatabase;
  SqliteStatement(SqliteDatabase* db, sqlite3_stmt* statement, bool reusable)
      : db_(db), statement_(statement), reusable_(reusable) {}
  std::string Context() const;  // "<database path>: <start of the SQL>", for error messages
  common::Status BindError(int index, int code);
  SqliteDatabase* db_;
  sqlite3_stmt* statement_;
  bool reusable_;      // goes back to db_'s idle statements when destroyed
  common::Status bind_error_;  // the first failed bind, reported by Step()
};

class SqliteDatabase {
 public:
  // Opens (creating it if needed) the database file: journal_mode=WAL, synchronous=FULL,
  // foreign_keys=ON and a busy timeout, each checked.
  static common::Result<std::unique_ptr<SqliteDatabase>> Open(const std::filesystem::path& path);
  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;
  ~SqliteDatabase();

  common::Result<SqliteStatement> Prepare(std::string_view sql);
  // Runs SQL text that returns no rows (one or several statements).
  common::Status Execute(std::string_view sql);
  // Rows changed by the last INSERT, UPDATE or DELETE.
  int64_t Changes() const;
  // The rowid of the last successful INSERT on this connection.
  int64_t LastInsertRowId() const;

  // Brings the schema to migrations.size(): migration i (from 0) moves the schema from version i
  // to i + 1, each in its own transaction with the version (PRAGMA user_version). A database of a
  // newer version than `migrations` knows is refused, not touched.
  common::Status Migrate(const std::vector<std::string>& migrations);
  common::Result<int64_t> SchemaVersion();

  // A transaction (BEGIN IMMEDIATE: it takes the write lock at once) that rolls back when
  // destroyed without Commit().
  class Transaction {
   public:
    Transaction(Transaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
    Transaction& operator=(Transaction&&) = delete;
    ~Transaction();
    common::Status Commit();

   private:
    friend class SqliteDatabase;
    explicit Transaction(SqliteDatabase* db) : db_(db) {}
    SqliteDatabase* db_;
  };
  common::Result<Transaction> Begin();

 private:
  friend class SqliteStatement;
  explicit SqliteDatabase(sqlite3* db, std::filesystem::path path) : db_(db), path_(std::move(path)) {}
  common::Status Error(std::string_view what, int code) const;
  // Takes back a statement that is done: reset, kept for the next Prepare of the same SQL.
  void Release(sqlite3_stmt* statement);
  sqlite3* db_;
  std::filesystem::path path_;
  // Compiling a statement costs more than running most of the store's (a claim runs five): each
  // SQL text is compiled once and its statement reused. Bounded, as a few texts carry values.
  static constexpr size_t kMaxIdleStatements = 256;
  struct TextHash {  // looks statements up by a string_view, without a copy of the SQL
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };
  std::unordered_map<std::string, std::vector<sqlite3_stmt*>, TextHash, std::equal_to<>> idle_statements_;
  size_t idle_count_ = 0;
};

}  // namespace gradients::validator
