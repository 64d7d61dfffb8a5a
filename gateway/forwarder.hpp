// forwarder.hpp: one HTTP request = one call of the SQL function, in one transaction, retried on
// serialization failures and deadlocks, with every database error mapped to an HTTP answer.
#pragma once

#include "answer.hpp"
#include "config.hpp"
#include "metrics.hpp"
#include "pool.hpp"

#include <exception>
#include <string>

namespace authflow::gateway {

// HttpCall holds the four arguments of the SQL function.
struct HttpCall {
  std::string method;
  std::string target;       // path plus optional ?query, as received
  std::string headers_json; // object: lowercase name -> string
  std::string body;
};

// DatabaseFailure sorts an exception from libpqxx by what the gateway does about it.
enum class DatabaseFailure { serialization, deadlock, connection, timeout, other };

// classify_failure inspects the exception in flight (call only inside a catch block).
DatabaseFailure classify_failure(std::exception_ptr error);

class Forwarder {
public:
  Forwarder(const Config &config, Metrics &metrics);

  // setup prepares a new connection: settings and the prepared statement.
  void setup(pqxx::connection &connection) const;

  // call runs the SQL function for one request; it never throws.
  HttpAnswer call(DatabaseSlot &slot, const HttpCall &request) const noexcept;

  // ping runs SELECT 1 (for /readyz); it never throws.
  HttpAnswer ping(DatabaseSlot &slot) const noexcept;

  // statement_text is the SQL of the prepared statement for a function name.
  static std::string statement_text(const std::string &function);

private:
  // failure_answer records a failure that ends the call and returns its HTTP answer.
  HttpAnswer failure_answer(DatabaseFailure failure) const;

  std::string statement_;
  std::chrono::milliseconds statement_timeout_;
  int retries_;
  Metrics &metrics_;
};

} // namespace authflow::gateway
