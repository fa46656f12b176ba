// PostgreSQL access of PostgresStore, shared by its files (postgres_store.cpp:
// batches and queries; postgres_csirt.cpp: the CSIRT's tables): values in
// libpq's binary format, parameters, COPY rows, results, a pooled connection.
// Private to the collector's storage.
#pragma once

#include <endian.h>
#include <libpq-fe.h>

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "storage/postgres_store.h"

namespace vigie::collector::postgres {

// Type OIDs of the parameters and results we use (PostgreSQL's
// src/include/catalog/pg_type.dat; stable across versions).
constexpr Oid kBoolOid = 16, kByteaOid = 17, kInt8Oid = 20, kInt2Oid = 21, kInt4Oid = 23,
              kTextOid = 25, kFloat4Oid = 700, kFloat8Oid = 701, kInt8ArrayOid = 1016;

inline int64_t to_db(uint64_t value) { return static_cast<int64_t>(value); }
inline int64_t to_db_bound(uint64_t value) {
  return static_cast<int64_t>(std::min<uint64_t>(value, std::numeric_limits<int64_t>::max()));
}

inline std::string trimmed(const char* message) {
  std::string out = message ? message : "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

// Values in PostgreSQL's binary format (network byte order), as parameters
// and as COPY fields: int8, int2, float8, bool, bytea, text, int8[].
inline void append_int8(std::string& out, int64_t value) {
  const uint64_t be = htobe64(static_cast<uint64_t>(value));
  out.append(reinterpret_cast<const char*>(&be), sizeof(be));
}
inline void append_int4(std::string& out, int32_t value) {
  const uint32_t be = htobe32(static_cast<uint32_t>(value));
  out.append(reinterpret_cast<const char*>(&be), sizeof(be));
}
inline void append_int2(std::string& out, int16_t value) {
  const uint16_t be = htobe16(static_cast<uint16_t>(value));
  out.append(reinterpret_cast<const char*>(&be), sizeof(be));
}

// One binary value and its type OID.
struct Value {
  Oid type;
  std::string bytes;
};
inline Value value_of(double v) {
  Value out{kFloat8Oid, {}};
  append_int8(out.bytes, static_cast<int64_t>(std::bit_cast<uint64_t>(v)));
  return out;
}
inline Value value_of(bool v) { return {kBoolOid, std::string(1, v ? '\1' : '\0')}; }
inline Value value_of(int16_t v) {
  Value out{kInt2Oid, {}};
  append_int2(out.bytes, v);
  return out;
}
inline Value value_of(std::string_view v) { return {kByteaOid, std::string(v)}; }
inline Value value_of(const std::string& v) { return {kByteaOid, v}; }
inline Value value_of(const std::vector<std::uint8_t>& v) {
  return {kByteaOid, std::string(v.begin(), v.end())};
}
template <typename T>
requires std::is_integral_v<T> Value value_of(T v) {
  Value out{kInt8Oid, {}};
  append_int8(out.bytes, static_cast<int64_t>(v));
  return out;
}
// A text column's value (strings are bytea otherwise): UTF-8 the caller made.
struct Text {
  std::string_view text;
};
inline Value value_of(Text v) { return {kTextOid, std::string(v.text)}; }
// A one-dimensional int8[] (PostgreSQL's array_send: dimensions, a has-nulls
// flag, the element type, per dimension its length and lower bound, then
// per element its length and bytes).
inline Value value_of(const std::vector<int64_t>& v) {
  Value out{kInt8ArrayOid, {}};
  for (const int32_t header :
       {1, 0, static_cast<int32_t>(kInt8Oid), static_cast<int32_t>(v.size()), 1})
    append_int4(out.bytes, header);
  for (const int64_t element : v) {
    append_int4(out.bytes, static_cast<int32_t>(sizeof(element)));
    append_int8(out.bytes, element);
  }
  return out;
}

// Parameters of one statement, all binary. Parameters a statement does not
// reference are allowed (their types are given), so the variants of a query
// share one argument list, as SqliteStore's do.
class Params {
 public:
  template <typename... Args>
  explicit Params(const Args&... args) {
    (values_.push_back(value_of(args)), ...);
  }
  int size() const { return static_cast<int>(values_.size()); }
  std::vector<Oid> types() const {
    std::vector<Oid> out;
    for (const auto& v : values_) out.push_back(v.type);
    return out;
  }
  const std::vector<Value>& values() const { return values_; }

 private:
  std::vector<Value> values_;
};

// Rows for COPY ... FROM STDIN (FORMAT binary): the PostgreSQL documentation,
// "COPY", section "Binary Format" (signature, flags, header extension, then
// per tuple an int16 field count and per field an int32 length and the bytes).
class CopyRows {
 public:
  template <typename... Args>
  void row(const Args&... args) {
    rows_.push_back({fields_.size(), static_cast<int16_t>(sizeof...(Args))});
    (field(fields_, value_of(args)), ...);
  }
  std::size_t rows() const { return rows_.size(); }
  // Puts values[i] before the fields of row i: a column known only once the
  // rows are encoded (ids taken from a sequence in the transaction).
  void prepend_column(std::vector<int64_t> values) {
    assert(values.size() == rows_.size());
    first_ = std::move(values);
  }
  bool has_prepended_column() const { return !first_.empty(); }
  // The COPY data; the same at every call (a write done again after a lost
  // connection sends it again).
  std::string finish() const {
    std::string out("PGCOPY\n\377\r\n\0", 11);
    append_int4(out, 0);  // flags
    append_int4(out, 0);  // header extension length
    for (std::size_t i = 0; i < rows_.size(); ++i) {
      const std::size_t end = i + 1 < rows_.size() ? rows_[i + 1].offset : fields_.size();
      append_int2(out, static_cast<int16_t>(rows_[i].fields + (first_.empty() ? 0 : 1)));
      if (!first_.empty()) field(out, value_of(first_[i]));
      out.append(fields_, rows_[i].offset, end - rows_[i].offset);
    }
    append_int2(out, -1);
    return out;
  }

 private:
  static void field(std::string& out, const Value& v) {
    append_int4(out, static_cast<int32_t>(v.bytes.size()));
    out.append(v.bytes);
  }
  struct Row {
    std::size_t offset;  // of its first field in fields_
    int16_t fields;
  };
  std::string fields_;  // every row's fields, each an int32 length and its bytes
  std::vector<Row> rows_;
  std::vector<int64_t> first_;  // prepend_column
};

using ResultPtr = std::unique_ptr<PGresult, decltype(&PQclear)>;

// A result in binary format. Accessors check the column's type and throw
// StoreError on a mismatch or NULL, rather than misread bytes.
class Result {
 public:
  explicit Result(PGresult* result) : result_(result, &PQclear) {}
  PGresult* get() const { return result_.get(); }
  int rows() const { return PQntuples(result_.get()); }
  uint64_t affected() const {
    const char* n = PQcmdTuples(result_.get());
    return n && *n ? std::stoull(n) : 0;
  }
  bool is_null(int row, int column) const { return PQgetisnull(result_.get(), row, column); }
  int64_t integer(int row, int column) const {
    const char* data = raw(row, column);
    switch (PQftype(result_.get(), column)) {
      case kInt8Oid: {
        uint64_t be;
        std::memcpy(&be, data, 8);
        return static_cast<int64_t>(be64toh(be));
      }
      case kInt4Oid: {
        uint32_t be;
        std::memcpy(&be, data, 4);
        return static_cast<int32_t>(be32toh(be));
      }
      case kInt2Oid: {
        uint16_t be;
        std::memcpy(&be, data, 2);
        return static_cast<int16_t>(be16toh(be));
      }
      default:
        throw type_error(column, "an integer");
    }
  }
  uint64_t unsigned_integer(int row, int column) const {
    return static_cast<uint64_t>(integer(row, column));
  }
  double real(int row, int column) const {
    const char* data = raw(row, column);
    switch (PQftype(result_.get(), column)) {
      case kFloat8Oid: {
        uint64_t be;
        std::memcpy(&be, data, 8);
        return std::bit_cast<double>(be64toh(be));
      }
      case kFloat4Oid: {
        uint32_t be;
        std::memcpy(&be, data, 4);
        return std::bit_cast<float>(be32toh(be));
      }
      default:
        throw type_error(column, "a float");
    }
  }
  bool boolean(int row, int column) const {
    if (PQftype(result_.get(), column) != kBoolOid) throw type_error(column, "a boolean");
    return raw(row, column)[0] != 0;
  }
  std::string text(int row, int column) const {
    const char* data = raw(row, column);
    return std::string(data, static_cast<std::size_t>(PQgetlength(result_.get(), row, column)));
  }
  std::vector<std::uint8_t> blob(int row, int column) const {
    const auto* data = reinterpret_cast<const std::uint8_t*>(raw(row, column));
    return {data, data + PQgetlength(result_.get(), row, column)};
  }

 private:
  const char* raw(int row, int column) const {
    if (PQgetisnull(result_.get(), row, column))
      throw StoreError(std::string("PostgreSQL: unexpected NULL in column ") +
                       PQfname(result_.get(), column));
    return PQgetvalue(result_.get(), row, column);
  }
  StoreError type_error(int column, const char* expected) const {
    return StoreError(std::string("PostgreSQL: column ") + PQfname(result_.get(), column) +
                      " is not " + expected + " (type oid " +
                      std::to_string(PQftype(result_.get(), column)) + ")");
  }
  ResultPtr result_;
};

}  // namespace vigie::collector::postgres

namespace vigie::collector {

using postgres::CopyRows;
using postgres::Params;
using postgres::Result;
using postgres::trimmed;

// One libpq connection with the statements prepared on it.
class PostgresStore::Connection {
 public:
  explicit Connection(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {
    if (!conn_) throw StoreError("PostgreSQL: out of memory");
    if (PQstatus(conn_) != CONNECTION_OK) {
      const std::string error = trimmed(PQerrorMessage(conn_));
      PQfinish(conn_);
      throw StoreError("cannot connect to PostgreSQL: " + error);
    }
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
  }
  ~Connection() { PQfinish(conn_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool broken() const { return PQstatus(conn_) != CONNECTION_OK; }
  // Round trips attempted since the connection was leased.
  unsigned calls() const { return calls_; }
  // Called at each lease; true when it was used before (idle in the pool).
  bool lease() {
    calls_ = 0;
    return leases_++ > 0;
  }

  // Runs `sql` (statements without parameters: BEGIN, COMMIT, DDL).
  void exec(const char* sql) {
    ++calls_;
    check(Result(PQexec(conn_, sql)), sql);
  }

  // Runs `sql` as a prepared statement (prepared on first use on this
  // connection) with binary parameters and results.
  Result query(const std::string& sql, const Params& params = Params()) {
    ++calls_;
    auto it = prepared_.find(sql);
    if (it == prepared_.end()) {
      const std::string name = "s" + std::to_string(prepared_.size());
      const auto types = params.types();
      check(Result(PQprepare(conn_, name.c_str(), sql.c_str(), params.size(), types.data())), sql);
      it = prepared_.emplace(sql, name).first;
    }
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    for (const auto& v : params.values()) {
      values.push_back(v.bytes.data());
      lengths.push_back(static_cast<int>(v.bytes.size()));
      formats.push_back(1);
    }
    Result result(PQexecPrepared(conn_, it->second.c_str(), params.size(), values.data(),
                                 lengths.data(), formats.data(), 1));
    check(result, sql);
    return result;
  }

  // COPY `target` FROM STDIN (FORMAT binary) with `rows`; nothing when empty.
  void copy(const std::string& target, const CopyRows& rows) {
    if (rows.rows() == 0) return;
    ++calls_;
    const std::string sql = "COPY " + target + " FROM STDIN (FORMAT binary)";
    Result start(PQexec(conn_, sql.c_str()));
    if (PQresultStatus(start.get()) != PGRES_COPY_IN) {
      check(start, sql);
      throw StoreError("PostgreSQL: COPY did not start in: " + sql);
    }
    const std::string data = rows.finish();
    if (PQputCopyData(conn_, data.data(), static_cast<int>(data.size())) != 1 ||
        PQputCopyEnd(conn_, nullptr) != 1) {
      throw StoreError("PostgreSQL: " + trimmed(PQerrorMessage(conn_)) + " in: " + sql);
    }
    // The COPY's result, then the end of its results.
    std::string error;
    while (PGresult* r = PQgetResult(conn_)) {
      Result result(r);
      if (PQresultStatus(r) != PGRES_COMMAND_OK && error.empty())
        error = trimmed(PQresultErrorMessage(r));
    }
    if (!error.empty()) throw StoreError("PostgreSQL: " + error + " in: " + sql);
  }

  // Rolls back whatever transaction is open; for error paths, never throws.
  void rollback() noexcept {
    if (!broken() && PQtransactionStatus(conn_) != PQTRANS_IDLE) PQclear(PQexec(conn_, "ROLLBACK"));
  }

 private:
  void check(const Result& result, const std::string& sql) {
    PGresult* r = result.get();
    const auto status = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return;
    const std::string error = r ? trimmed(PQresultErrorMessage(r)) : "";
    throw StoreError("PostgreSQL: " + (error.empty() ? trimmed(PQerrorMessage(conn_)) : error) +
                     " in: " + sql.substr(0, 200));
  }

  PGconn* conn_;
  std::map<std::string, std::string> prepared_;  // sql -> statement name
  unsigned calls_ = 0;
  unsigned long leases_ = 0;
};

template <typename Work>
auto PostgresStore::with_connection(Work&& work, bool idempotent) {
  for (int attempt = 0;; ++attempt) {
    auto lease = acquire();
    const bool reused = lease->lease();
    try {
      return work(*lease);
    } catch (const StoreError&) {
      lease->rollback();
      // A server restart shows only when a connection idle in the pool is
      // used again: then the work is done once more on a new connection,
      // when that is safe (idempotent work, or its first call failed).
      if (attempt > 0 || !reused || !lease->broken() || (!idempotent && lease->calls() > 1)) throw;
    }
  }
}

template <typename Work>
auto PostgresStore::transaction(Work&& work, bool idempotent) {
  return with_connection(
      [&](Connection& c) {
        c.exec("BEGIN");
        try {
          if constexpr (std::is_void_v<decltype(work(c))>) {
            work(c);
            c.exec("COMMIT");
          } else {
            auto result = work(c);
            c.exec("COMMIT");
            return result;
          }
        } catch (...) {
          c.rollback();
          throw;
        }
      },
      idempotent);
}

}  // namespace vigie::collector
