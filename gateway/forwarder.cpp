// forwarder.cpp: see forwarder.hpp.
#include "forwarder.hpp"

#include <iostream>

namespace authflow::gateway {
namespace {

const char *const statement_name = "authflow_http";

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
  case DatabaseFailure::other:
    break;
  }
  return "other";
}

} // namespace

// classify_failure relies on libpqxx 6.4's mapping: 40001 and 40P01 have their own classes, 08xxx
// becomes broken_connection; the rest are sql_error with the SQLSTATE kept.
DatabaseFailure classify_failure(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const pqxx::serialization_failure &) {
    return DatabaseFailure::serialization;
  } catch (const pqxx::deadlock_detected &) {
    return DatabaseFailure::deadlock;
  } catch (const pqxx::broken_connection &) {
    return DatabaseFailure::connection;
  } catch (const pqxx::sql_error &e) {
    if (is_connection_state(e.sqlstate()))
      return DatabaseFailure::connection;
    if (e.sqlstate() == "57014")
      return DatabaseFailure::timeout;
    return DatabaseFailure::other;
  } catch (...) {
    return DatabaseFailure::other;
  }
}

// Forwarder keeps what every call needs.
Forwarder::Forwarder(const Config &config, Metrics &metrics)
    : statement_(statement_text(config.http_function)), statement_timeout_(config.request_timeout),
      retries_(config.retries), metrics_(metrics) {}

// statement_text splices the (validated) function name; all request data are parameters.
std::string Forwarder::statement_text(const std::string &function) {
  return "SELECT status, headers::text, body FROM " + function + "($1::text, $2::text, $3::jsonb, $4::text)";
}

// setup runs once per new connection.
void Forwarder::setup(pqxx::connection &connection) const {
  connection.set_variable("application_name", "'authflow-gateway'");
  connection.set_variable("statement_timeout", std::to_string(statement_timeout_.count()));
  connection.prepare(statement_name, statement_);
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
  case DatabaseFailure::other:
    break;
  }
  return error_answer(500, "INTERNAL_ERROR", "internal error");
}

// call retries 40001/40P01 up to retries_ times, and once more when a connection from the pool
// turns out to be dead (the database restarted since its last use): that attempt never ran.
HttpAnswer Forwarder::call(DatabaseSlot &slot, const HttpCall &request) const noexcept {
  int conflicts = 0;
  bool reconnected = false;
  for (;;) {
    try {
      // One statement in autocommit: it is its own transaction, in one round trip (no BEGIN and
      // COMMIT around it); a 40001/40P01 retry runs it again whole.
      pqxx::connection &connection = slot.connection();
      pqxx::nontransaction transaction(connection);
      pqxx::result result =
          transaction.exec_prepared(statement_name, request.method, request.target, request.headers_json, request.body);
      if (result.empty()) {
        std::cerr << "authflow-gateway: the HTTP function returned no row\n";
        return failure_answer(DatabaseFailure::other);
      }
      const auto &row = result[0];
      auto answer = answer_from_sql(row[0].is_null() ? 0 : row[0].as<int>(), row[1].is_null() ? "null" : row[1].c_str(),
                                    row[2].is_null() ? std::string() : row[2].as<std::string>());
      if (!answer) {
        std::cerr << "authflow-gateway: the HTTP function returned an invalid status or headers\n";
        return failure_answer(DatabaseFailure::other);
      }
      return *answer;
    } catch (...) {
      auto failure = classify_failure(std::current_exception());
      bool conflict = failure == DatabaseFailure::serialization || failure == DatabaseFailure::deadlock;
      if (conflict && conflicts < retries_) {
        ++conflicts;
        metrics_.record_retry(failure_label(failure));
        continue;
      }
      if (failure == DatabaseFailure::connection) {
        bool stale = slot.reused() && !reconnected;
        slot.discard();
        if (stale) {
          reconnected = true;
          metrics_.record_retry("stale_connection");
          continue;
        }
      }
      if (failure == DatabaseFailure::other) {
        // Only the SQLSTATE: a message may quote the request's data.
        try {
          throw;
        } catch (const pqxx::sql_error &e) {
          std::cerr << "authflow-gateway: database call failed with SQLSTATE " << e.sqlstate() << "\n";
        } catch (...) {
          std::cerr << "authflow-gateway: database call failed outside SQL\n";
        }
      }
      return failure_answer(failure);
    }
  }
}

// ping checks that a pooled connection answers at all.
HttpAnswer Forwarder::ping(DatabaseSlot &slot) const noexcept {
  bool reconnected = false;
  for (;;) {
    try {
      pqxx::nontransaction transaction(slot.connection());
      transaction.exec("SELECT 1");
      HttpAnswer answer;
      answer.status = 200;
      answer.headers = {{"content-type", "application/json"}};
      answer.body = R"({"status":"ready"})";
      return answer;
    } catch (...) {
      auto failure = classify_failure(std::current_exception());
      if (failure == DatabaseFailure::connection) {
        bool stale = slot.reused() && !reconnected;
        slot.discard();
        if (stale) {
          reconnected = true;
          continue;
        }
      }
      return failure_answer(failure);
    }
  }
}

} // namespace authflow::gateway
