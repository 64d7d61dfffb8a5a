// sql_fixture.cpp: see sql_fixture.hpp.
#include "sql_fixture.hpp"

#include "database.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

namespace authflow::testing {
namespace {

// function_sql defines the test's HTTP function. Paths:
//   /conflict         40001 while the counter is at most 2, then the echo
//   /always-conflict  40001 every time;  /deadlock  40P01 every time
//   /slow?seconds=S   sleeps S seconds, then the echo
//   /bug              division by zero (a bug on the SQL side: 500)
//   /bad-headers      a header value with CR LF (refused by the gateway: 500)
//   /empty            204 with NULL headers and NULL body
//   /shaped-headers?shape=S  200 with headers of one shape (numbers, list, object, boolean,
//                     list-of-numbers, managed, upper-case)
//   /wait-lock?key=K  waits for a shared hold of advisory lock K (the test holds it), then the echo
//   /record?id=X      records X in the schema's table "records", then the echo
//   anything else     201 echo: method, target, headers, body and the backend's pid as JSON, two
//                     set-cookie headers
std::string function_sql(const std::string &schema) {
  return R"SQL(
CREATE SCHEMA )SQL" +
         schema + R"SQL(;
CREATE SEQUENCE )SQL" +
         schema + R"SQL(.conflicts;
CREATE TABLE )SQL" +
         schema + R"SQL(.records (id text NOT NULL);
CREATE FUNCTION )SQL" +
         schema + R"SQL(.http(request_method text, request_target text, request_headers jsonb,
                                 request_body text)
RETURNS TABLE(status integer, headers jsonb, body text) LANGUAGE plpgsql AS $fn$
DECLARE
  path text := split_part(request_target, '?', 1);
BEGIN
  IF path = '/conflict' AND nextval(')SQL" +
         schema + R"SQL(.conflicts') <= 2 THEN
    RAISE EXCEPTION 'test conflict' USING ERRCODE = 'serialization_failure';
  ELSIF path = '/always-conflict' THEN
    RAISE EXCEPTION 'test conflict' USING ERRCODE = 'serialization_failure';
  ELSIF path = '/deadlock' THEN
    RAISE EXCEPTION 'test deadlock' USING ERRCODE = 'deadlock_detected';
  ELSIF path = '/slow' THEN
    PERFORM pg_sleep(coalesce(substring(request_target FROM 'seconds=([0-9.]+)')::float8, 0.5));
  ELSIF path = '/wait-lock' THEN
    PERFORM pg_advisory_xact_lock_shared(substring(request_target FROM 'key=([0-9]+)')::bigint);
  ELSIF path = '/record' THEN
    INSERT INTO )SQL" +
         schema + R"SQL(.records VALUES (substring(request_target FROM 'id=([^&]+)'));
  ELSIF path = '/bug' THEN
    PERFORM 1 / 0;
  ELSIF path = '/bad-headers' THEN
    RETURN QUERY SELECT 200, jsonb_build_object('x-bad', E'a\r\nset-cookie: evil=1'), 'x'::text;
    RETURN;
  ELSIF path = '/shaped-headers' THEN
    RETURN QUERY SELECT 200, CASE substring(request_target FROM 'shape=([a-z-]+)')
        WHEN 'numbers' THEN '{"x-int": 5, "x-float": 1.5}'::jsonb
        WHEN 'list' THEN '{"x-list": ["a", "b"]}'
        WHEN 'object' THEN '{"x-object": {"a": "b"}}'
        WHEN 'boolean' THEN '{"x-boolean": true}'
        WHEN 'list-of-numbers' THEN '{"x-list": [1]}'
        WHEN 'managed' THEN '{"content-length": "999", "connection": "close", "x-ok": "yes"}'
        WHEN 'upper-case' THEN '{"X-Upper": "yes"}' END, 'x'::text;
    RETURN;
  ELSIF path = '/empty' THEN
    RETURN QUERY SELECT 204, NULL::jsonb, NULL::text;
    RETURN;
  END IF;
  RETURN QUERY SELECT 201,
    jsonb_build_object('content-type', 'application/json',
                       'x-authflow-route', request_method || ' /echo',
                       'x-echo', 'yes',
                       'x-authflow-tenant', coalesce(request_headers ->> 'x-tenant-id', ''),
                       'set-cookie', jsonb_build_array('a=1; Path=/; HttpOnly', 'b=2; Path=/')),
    jsonb_build_object('method', request_method, 'target', request_target,
                       'headers', request_headers, 'body', request_body, 'backend', pg_backend_pid())::text;
END
$fn$;
)SQL";
}

// SchemaEnvironment creates the schema before the first test and drops it after the last.
class SchemaEnvironment : public ::testing::Environment {
public:
  // SetUp replaces a schema left over by a crashed run of the same pid.
  void SetUp() override {
    run_sql("DROP SCHEMA IF EXISTS " + test_schema() + " CASCADE;" + function_sql(test_schema()));
  }
  // TearDown drops the schema and everything in it.
  void TearDown() override {
    try {
      run_sql("DROP SCHEMA IF EXISTS " + test_schema() + " CASCADE");
    } catch (const std::exception &e) {
      ADD_FAILURE() << "could not drop " << test_schema() << ": " << e.what();
    }
  }
};

[[maybe_unused]] auto *const schema_environment = ::testing::AddGlobalTestEnvironment(new SchemaEnvironment);

} // namespace

// test_schema is per process, so two test runs on one cluster do not collide.
const std::string &test_schema() {
  static const std::string name = "gateway_test_" + std::to_string(::getpid());
  return name;
}

// test_function names the function for --http-function.
std::string test_function() { return test_schema() + ".http"; }

// reset_conflicts makes /conflict fail twice again.
void reset_conflicts() { run_sql("ALTER SEQUENCE " + test_schema() + ".conflicts RESTART"); }

// records lists what /record recorded, in no particular order.
std::vector<std::string> records() {
  auto connection = connect();
  pqxx::nontransaction transaction(*connection);
  std::vector<std::string> ids;
  for (const auto &row : transaction.exec("SELECT id FROM " + test_schema() + ".records"))
    ids.push_back(row[0].as<std::string>());
  return ids;
}

// HeldLock takes the lock on a connection of its own; the session keeps it until release.
HeldLock::HeldLock(long long key) : key_(key), connection_(connect()) {
  pqxx::nontransaction transaction(*connection_);
  transaction.exec("SELECT pg_advisory_lock(" + std::to_string(key_) + ")");
}

HeldLock::~HeldLock() {
  try {
    release();
  } catch (const std::exception &) {
    // The cluster may be down (restart tests): the lock died with the session.
  }
}

void HeldLock::release() {
  if (!connection_)
    return;
  auto connection = std::move(connection_);
  pqxx::nontransaction transaction(*connection);
  transaction.exec("SELECT pg_advisory_unlock(" + std::to_string(key_) + ")");
}

// run_sql uses a non-transaction so that several statements run as one script.
void run_sql(const std::string &sql) {
  auto connection = connect();
  pqxx::nontransaction transaction(*connection);
  transaction.exec(sql);
}

} // namespace authflow::testing
