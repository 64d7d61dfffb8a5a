// sql_fixture.hpp: a throwaway schema holding the test's own HTTP function, so that the gateway
// tests check forwarding, retries and errors without depending on the real routes.
#pragma once

#include <pqxx/pqxx>

#include <memory>
#include <string>
#include <vector>

namespace authflow::testing {

// test_schema is this process's schema name (created once, dropped at exit).
const std::string &test_schema();

// test_function is "<schema>.http", the value for --http-function.
std::string test_function();

// reset_conflicts restarts the counter behind /conflict (it fails twice with 40001, then answers).
void reset_conflicts();

// run_sql runs statements on a new connection to the test cluster.
void run_sql(const std::string &sql);

// records is what /record?id=X recorded so far.
std::vector<std::string> records();

// HeldLock holds advisory lock `key` on a connection of its own until release() (or its end):
// requests to /wait-lock?key=K wait in the database until then.
class HeldLock {
public:
  explicit HeldLock(long long key);
  ~HeldLock();
  HeldLock(const HeldLock &) = delete;
  HeldLock &operator=(const HeldLock &) = delete;

  // release lets the waiting requests go on.
  void release();

private:
  long long key_;
  std::unique_ptr<pqxx::connection> connection_;
};

} // namespace authflow::testing
