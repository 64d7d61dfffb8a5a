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
//   anything else     201 echo: method, target, headers, body as JSON, two set-cookie headers
std::string function_sql(const std::string &schema) {
  return R"SQL(
CREATE SCHEMA )SQL" +
         schema + R"SQL(;
CREATE SEQUENCE )SQL" +
         schema + R"SQL(.conflicts;
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
  ELSIF path = '/bug' THEN
    PERFORM 1 / 0;
  ELSIF path = '/bad-headers' THEN
    RETURN QUERY SELECT 200, jsonb_build_object('x-bad', E'a\r\nset-cookie: evil=1'), 'x'::text;
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
                       'headers', request_headers, 'body', request_body)::text;
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

// run_sql uses a non-transaction so that several statements run as one script.
void run_sql(const std::string &sql) {
  auto connection = connect();
  pqxx::nontransaction transaction(*connection);
  transaction.exec(sql);
}

} // namespace authflow::testing
