// device_integration_test.cpp: the device login (RFC 8628) under real concurrent connections:
// one pick-up of an approved code, one decision of a code, and a revocation racing the pick-up.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include "database.hpp"

namespace {

using authflow::testing::connect;
using authflow::testing::run_concurrently;
using authflow::testing::unique_name;

// Tenant is a tenant of its own with a registered client "tv", so that runs never meet.
struct Tenant {
  std::string name;
};

Tenant NewTenant(pqxx::connection &connection) {
  const std::string name = unique_name("device");
  pqxx::work work(connection);
  work.exec_params("SELECT authflow.tenant_set($1)", name);
  work.exec_params("SELECT authflow.oauth_client_register('tv', 'TV', 'https://example.test/device', tenant => $1)", name);
  work.commit();
  return {name};
}

struct DeviceCode {
  std::string device_code;
  std::string user_code;
};

DeviceCode Authorize(pqxx::connection &connection, const Tenant &tenant) {
  pqxx::work work(connection);
  const pqxx::row row =
      work.exec_params1("SELECT device_code, user_code FROM authflow.device_authorize('tv', NULL, $1)", tenant.name);
  work.commit();
  return {row[0].as<std::string>(), row[1].as<std::string>()};
}

std::string RefreshTokenOf(pqxx::connection &connection, const Tenant &tenant, const std::string &user) {
  pqxx::work work(connection);
  const std::string token =
      work.exec_params1("SELECT refresh_token FROM authflow.session_create($1, tenant => $2)", user, tenant.name)[0]
          .as<std::string>();
  work.commit();
  return token;
}

bool Approve(pqxx::connection &connection, const Tenant &tenant, const DeviceCode &code, const std::string &refresh_token) {
  pqxx::work work(connection);
  const bool approved =
      work.exec_params1("SELECT authflow.device_approve($1, $2, $3)", code.user_code, refresh_token, tenant.name)[0].as<bool>();
  work.commit();
  return approved;
}

bool Deny(pqxx::connection &connection, const Tenant &tenant, const DeviceCode &code) {
  pqxx::work work(connection);
  const bool denied = work.exec_params1("SELECT authflow.device_deny($1, $2)", code.user_code, tenant.name)[0].as<bool>();
  work.commit();
  return denied;
}

// Poll returns the status of a poll a minute after the code was issued (past its interval, so no
// poll is early), "AF053" for a code already used, or the SQLSTATE of any other error.
std::string Poll(pqxx::connection &connection, const Tenant &tenant, const DeviceCode &code) {
  try {
    pqxx::work work(connection);
    const std::string status =
        work.exec_params1("SELECT status FROM authflow.device_poll_at($1, 'tv', $2, NULL, NULL, now() + interval '1 minute')",
                          code.device_code, tenant.name)[0]
            .as<std::string>();
    work.commit();
    return status;
  } catch (const pqxx::sql_error &error) {
    return error.sqlstate();
  }
}

long DeviceSessions(pqxx::connection &connection, const Tenant &tenant, const std::string &user) {
  pqxx::work work(connection);
  return work.exec_params1("SELECT count(*) FROM authflow.session_list($1, $2) WHERE kind = 'device'", user, tenant.name)[0]
      .as<long>();
}

TEST(DeviceConcurrency, ThirtyTwoConcurrentPollsAfterApprovalSucceedExactlyOnce) {
  auto setup = connect();
  const Tenant tenant = NewTenant(*setup);
  const DeviceCode code = Authorize(*setup, tenant);
  ASSERT_TRUE(Approve(*setup, tenant, code, RefreshTokenOf(*setup, tenant, "did:plc:tv-owner")));
  std::atomic<int> successes{0}, used{0};
  run_concurrently(32, [&](int, pqxx::connection &connection) {
    const std::string status = Poll(connection, tenant, code);
    if (status == "success")
      ++successes;
    if (status == "AF053")
      ++used;
  });
  EXPECT_EQ(successes.load(), 1);
  EXPECT_EQ(used.load(), 31) << "every other poll is told the code was used (invalid_grant)";
  EXPECT_EQ(DeviceSessions(*setup, tenant, "did:plc:tv-owner"), 1) << "one session was made";
}

TEST(DeviceConcurrency, ThirtyTwoConcurrentApprovalsHaveOneWinner) {
  auto setup = connect();
  const Tenant tenant = NewTenant(*setup);
  const DeviceCode code = Authorize(*setup, tenant);
  std::vector<std::string> browsers;
  for (int i = 0; i < 32; ++i)
    browsers.push_back(RefreshTokenOf(*setup, tenant, "did:plc:approver-" + std::to_string(i)));
  std::atomic<int> wins{0}, refused{0};
  std::atomic<int> winner{-1};
  run_concurrently(32, [&](int i, pqxx::connection &connection) {
    if (Approve(connection, tenant, code, browsers[i])) {
      ++wins;
      winner = i;
    } else {
      ++refused;
    }
  });
  ASSERT_EQ(wins.load(), 1);
  EXPECT_EQ(refused.load(), 31);
  EXPECT_EQ(Poll(*setup, tenant, code), "success");
  EXPECT_EQ(DeviceSessions(*setup, tenant, "did:plc:approver-" + std::to_string(winner.load())), 1)
      << "the device is signed in as the one approver that won";
}

TEST(DeviceConcurrency, ConcurrentApprovalsAndDenialsDecideOnce) {
  auto setup = connect();
  const Tenant tenant = NewTenant(*setup);
  const DeviceCode code = Authorize(*setup, tenant);
  const std::string browser = RefreshTokenOf(*setup, tenant, "did:plc:decider");
  std::atomic<int> approved{0}, denied{0};
  run_concurrently(32, [&](int i, pqxx::connection &connection) {
    if (i % 2 == 0 ? Approve(connection, tenant, code, browser) : Deny(connection, tenant, code))
      ++(i % 2 == 0 ? approved : denied);
  });
  ASSERT_EQ(approved.load() + denied.load(), 1) << "one decision, whichever came first";
  EXPECT_EQ(Poll(*setup, tenant, code), approved.load() == 1 ? "success" : "access_denied");
}

TEST(DeviceConcurrency, LogOutEverywhereRacingThePickUpLeavesNoSession) {
  auto setup = connect();
  const Tenant tenant = NewTenant(*setup);
  for (int round = 0; round < 8; ++round) {
    const std::string user = "did:plc:racer-" + std::to_string(round);
    const DeviceCode code = Authorize(*setup, tenant);
    ASSERT_TRUE(Approve(*setup, tenant, code, RefreshTokenOf(*setup, tenant, user)));
    std::string status;
    run_concurrently(2, [&](int i, pqxx::connection &connection) {
      if (i == 0) {
        status = Poll(connection, tenant, code);
      } else {
        pqxx::work work(connection);
        work.exec_params("SELECT authflow.session_revoke_all($1, $2)", user, tenant.name);
        work.commit();
      }
    });
    EXPECT_TRUE(status == "success" || status == "expired_token") << status;
    EXPECT_EQ(DeviceSessions(*setup, tenant, user), 0)
        << "round " << round << ": either the poll saw the revocation, or its new session was revoked with the rest";
  }
}

} // namespace
