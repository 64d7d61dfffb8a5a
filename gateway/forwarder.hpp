// forwarder.hpp: what one HTTP request means to the database: one call of the SQL function, in
// its own transaction, gated by the request's deadline, retried on serialization failures and
// deadlocks, with every database outcome mapped to an HTTP answer. No sockets here: pipeline.hpp
// sends the statements, database.hpp chooses the connection.
#pragma once

#include "answer.hpp"
#include "config.hpp"
#include "metrics.hpp"

#include <libpq-fe.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace authflow::gateway {

// HttpCall holds the four arguments of the SQL function.
struct HttpCall {
  std::string method;
  std::string target;       // path plus optional ?query, as received
  std::string headers_json; // object: lowercase name -> string
  std::string body;
};

// DatabaseCall is one request on its way through the database: what to send, until when it may
// start, how often it was retried, and whom to answer (exactly once, on any IO thread).
struct DatabaseCall {
  bool ping = false; // /readyz: SELECT 1 instead of the SQL function
  HttpCall request;
  std::chrono::steady_clock::time_point deadline;      // start by then, or 503 DATABASE_BUSY
  std::chrono::system_clock::time_point deadline_wall; // the same instant on the wall clock
  int conflicts = 0;                                   // 40001/40P01 retries so far
  bool resent = false;                                 // sent again once already because its connection was dead
  int hops = 0;                                        // times handed to another IO thread
  std::function<void(HttpAnswer)> done;
};
using CallPointer = std::unique_ptr<DatabaseCall>;

// DatabaseFailure sorts what went wrong by what the gateway does about it.
enum class DatabaseFailure { serialization, deadlock, connection, timeout, busy, other };

// classify_state sorts a SQLSTATE (empty: no SQLSTATE, e.g. a broken connection).
DatabaseFailure classify_state(const std::string &state);

// Outcome is what a finished statement means for its call.
struct Outcome {
  enum class Kind { answer, retry, resend } kind = Kind::answer;
  HttpAnswer answer; // for Kind::answer
};

class Forwarder {
public:
  Forwarder(const Config &config, Metrics &metrics);

  // statement_name is the prepared statement every connection holds.
  static const char *statement_name() { return "authflow_http"; }

  // statement_text is the SQL of the prepared statement for a function name: the function runs
  // only when the statement starts before the deadline ($5, the database's clock), and the first
  // column tells whether it did. All request data are parameters.
  static std::string statement_text(const std::string &function);

  // statement is the prepared statement's text for the configured function.
  const std::string &statement() const { return statement_; }

  // setup_sql is the session set-up each new connection runs with $1 = statement_timeout; its one
  // row also carries the database's clock (epoch seconds), for the deadlines.
  static const char *setup_sql();

  // statement_timeout is what setup_sql sets.
  std::string statement_timeout() const { return std::to_string(statement_timeout_.count()); }

  // outcome reads the result of a call's statement (null: none came, the connection broke): an
  // answer, or a retry the caller must send again. It counts errors and retries in the metrics.
  Outcome outcome(DatabaseCall &call, const PGresult *result) const;

  // failure_answer records a failure that ends a call and returns its HTTP answer.
  HttpAnswer failure_answer(DatabaseFailure failure) const;

  // ready_answer is /readyz's answer when SELECT 1 worked.
  static HttpAnswer ready_answer();

private:
  std::string statement_;
  std::chrono::milliseconds statement_timeout_;
  int retries_;
  Metrics &metrics_;
};

} // namespace authflow::gateway
