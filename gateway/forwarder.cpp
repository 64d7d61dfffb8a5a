// forwarder.cpp: see forwarder.hpp.
#include "forwarder.hpp"

#include <cstdlib>
#include <iostream>

namespace authflow::gateway {
namespace {

// is_connection_state tells SQLSTATEs that mean the connection (or the server) is gone.
bool is_connection_state(const std::string &state) {
  return state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02" || state == "57P03" || state == "53300";
}

// failure_label names a failure kind in metrics.
const char *failure_label(DatabaseFailure failure) {
  switch (failure) {
  case DatabaseFailure::serialization:
    return "serialization_failure";
  case DatabaseFailure::deadlock:
    return "deadlock";
  case DatabaseFailure::connection:
    return "connection";
  case DatabaseFailure::timeout:
    return "timeout";
  case DatabaseFailure::busy:
    return "pool_timeout";
  case DatabaseFailure::other:
    break;
  }
  return "other";
}

// text_of reads a text column, "" for NULL.
std::string text_of(const PGresult *result, int column) {
  if (PQgetisnull(result, 0, column))
    return {};
  return std::string(PQgetvalue(result, 0, column), static_cast<std::size_t>(PQgetlength(result, 0, column)));
}

} // namespace

// classify_state: 40001 and 40P01 are retried, 08xxx and the shutdown states mean the connection
// is gone, 57014 is the statement timeout; anything else is a bug on the SQL side.
DatabaseFailure classify_state(const std::string &state) {
  if (state == "40001")
    return DatabaseFailure::serialization;
  if (state == "40P01")
    return DatabaseFailure::deadlock;
  if (state.empty() || is_connection_state(state))
    return DatabaseFailure::connection;
  if (state == "57014")
    return DatabaseFailure::timeout;
  return DatabaseFailure::other;
}

// Forwarder keeps what every call needs.
Forwarder::Forwarder(const Config &config, Metrics &metrics)
    : statement_(statement_text(config.http_function)), statement_timeout_(config.request_timeout),
      retries_(config.retries), metrics_(metrics) {}

// statement_text splices the (validated) function name. The LATERAL subquery runs the function
// only when its one-time filter holds: a statement that starts after the deadline (it waited in
// the pipeline behind slower ones) returns started = false and never ran the function.
std::string Forwarder::statement_text(const std::string &function) {
  return "SELECT g.started, r.status, r.headers::text, r.body"
         " FROM (SELECT statement_timestamp() < to_timestamp($5::float8) AS started) AS g"
         " LEFT JOIN LATERAL (SELECT * FROM " +
         function + "($1::text, $2::text, $3::jsonb, $4::text) WHERE g.started LIMIT 1) AS r ON true";
}

// setup_sql: application_name and statement_timeout as pqxx's set_variable set them before, for
// this session only; clock_timestamp() lets the gateway put deadlines on the database's clock.
const char *Forwarder::setup_sql() {
  return "SELECT set_config('application_name', 'authflow-gateway', false), "
         "set_config('statement_timeout', $1, false), extract(epoch FROM clock_timestamp())::float8";
}

// ready_answer is the body of a ready /readyz.
HttpAnswer Forwarder::ready_answer() {
  HttpAnswer answer;
  answer.status = 200;
  answer.headers = {{"content-type", "application/json"}};
  answer.body = R"({"status":"ready"})";
  return answer;
}

// failure_answer maps a failure kind to the gateway's own error answer.
HttpAnswer Forwarder::failure_answer(DatabaseFailure failure) const {
  metrics_.record_database_error(failure_label(failure));
  switch (failure) {
  case DatabaseFailure::serialization:
  case DatabaseFailure::deadlock:
    return error_answer(503, "DATABASE_CONFLICT", "database conflict, try again");
  case DatabaseFailure::connection:
    return error_answer(503, "DATABASE_UNAVAILABLE", "database unavailable");
  case DatabaseFailure::timeout:
    return error_answer(504, "DATABASE_TIMEOUT", "database timeout");
  case DatabaseFailure::busy:
    return error_answer(503, "DATABASE_BUSY", "no database connection free in time");
  case DatabaseFailure::other:
    break;
  }
  return error_answer(500, "INTERNAL_ERROR", "internal error");
}

// outcome: a statement that never ran (aborted in its pipeline, or not sent because the
// connection was dead) is sent once more; 40001/40P01 up to retries_ times; the rest is answered.
Outcome Forwarder::outcome(DatabaseCall &call, const PGresult *result) const {
  Outcome outcome;
  const ExecStatusType status = result == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(result);
  if (status == PGRES_PIPELINE_ABORTED && !call.resent) {
    call.resent = true;
    outcome.kind = Outcome::Kind::resend;
    return outcome;
  }
  if (status == PGRES_TUPLES_OK) {
    if (call.ping) {
      outcome.answer = ready_answer();
      return outcome;
    }
    if (PQntuples(result) < 1 || PQnfields(result) < 4) {
      std::cerr << "authflow-gateway: the gateway's statement returned no row\n";
      outcome.answer = failure_answer(DatabaseFailure::other);
      return outcome;
    }
    if (text_of(result, 0) != "t") {
      outcome.answer = failure_answer(DatabaseFailure::busy);
      return outcome;
    }
    if (PQgetisnull(result, 0, 1)) {
      std::cerr << "authflow-gateway: the HTTP function returned no row\n";
      outcome.answer = failure_answer(DatabaseFailure::other);
      return outcome;
    }
    auto answer = answer_from_sql(std::atoi(PQgetvalue(result, 0, 1)),
                                  PQgetisnull(result, 0, 2) ? "null" : text_of(result, 2), text_of(result, 3));
    if (!answer) {
      std::cerr << "authflow-gateway: the HTTP function returned an invalid status or headers\n";
      outcome.answer = failure_answer(DatabaseFailure::other);
      return outcome;
    }
    outcome.answer = std::move(*answer);
    return outcome;
  }
  const char *field = result == nullptr ? nullptr : PQresultErrorField(result, PG_DIAG_SQLSTATE);
  const std::string state = field == nullptr ? "" : field;
  const DatabaseFailure failure = classify_state(state);
  const bool conflict = failure == DatabaseFailure::serialization || failure == DatabaseFailure::deadlock;
  if (conflict && call.conflicts < retries_) {
    ++call.conflicts;
    metrics_.record_retry(failure_label(failure));
    outcome.kind = Outcome::Kind::retry;
    return outcome;
  }
  if (failure == DatabaseFailure::other) {
    // Only the SQLSTATE: a message may quote the request's data.
    std::cerr << "authflow-gateway: database call failed with SQLSTATE " << state << "\n";
  }
  outcome.answer = failure_answer(failure);
  return outcome;
}

} // namespace authflow::gateway
