// rotation_integration_test.cpp: refresh-token rotation under real concurrent connections, and
// the per-tenant notifications of revocations, seen by a real listening connection.
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "database.hpp"

namespace {

using authflow::testing::connect;
using authflow::testing::run_concurrently;
using authflow::testing::unique_name;

struct Pair {
  std::string refresh;
  std::string access;
};

std::string RotatingTenant() {
  const std::string tenant = unique_name("rotation");
  auto connection = connect();
  pqxx::work work(*connection);
  work.exec_params("SELECT authflow.tenant_set($1)", tenant); // a new tenant: rotation on
  work.commit();
  return tenant;
}

Pair Create(const std::string &tenant) {
  auto connection = connect();
  pqxx::work work(*connection);
  const pqxx::row row = work.exec_params1(
      "SELECT refresh_token, access_token FROM authflow.session_create($1, NULL, NULL, $2)", unique_name("did:plc:rot"),
      tenant);
  work.commit();
  return {row[0].as<std::string>(), row[1].as<std::string>()};
}

long Validates(const std::string &access) {
  auto connection = connect();
  pqxx::nontransaction work(*connection);
  return work.exec_params1("SELECT count(*) FROM authflow.session_validate($1)", access)[0].as<long>();
}

TEST(Rotation, SixteenConcurrentRefreshesWithOneTokenAllGetTheSamePair) {
  const std::string tenant = RotatingTenant();
  const Pair session = Create(tenant);
  std::mutex mutex;
  std::vector<Pair> answers;
  run_concurrently(16, [&](int, pqxx::connection &connection) {
    pqxx::nontransaction work(connection);
    const pqxx::result rows =
        work.exec_params("SELECT new_refresh_token, access_token FROM authflow.session_refresh($1)", session.refresh);
    std::lock_guard<std::mutex> lock(mutex);
    if (rows.size() == 1)
      answers.push_back({rows[0][0].as<std::string>(), rows[0][1].as<std::string>()});
  });
  ASSERT_EQ(answers.size(), 16u) << "every concurrent refresh was answered";
  std::set<std::string> refresh_tokens, access_tokens;
  for (const Pair &answer : answers) {
    refresh_tokens.insert(answer.refresh);
    access_tokens.insert(answer.access);
  }
  EXPECT_EQ(refresh_tokens.size(), 1u) << "one new refresh token for all";
  EXPECT_EQ(access_tokens.size(), 1u) << "one new access token for all";
  EXPECT_NE(*refresh_tokens.begin(), session.refresh);
  EXPECT_EQ(Validates(*access_tokens.begin()), 1) << "the pair works";
  EXPECT_EQ(Validates(session.access), 0) << "the old access token does not";

  auto connection = connect();
  pqxx::work work(*connection);
  EXPECT_EQ(work.exec_params1("SELECT refresh_generation FROM authflow.sessions WHERE session_id = "
                              "(SELECT session_id FROM authflow.session_validate($1))",
                              *access_tokens.begin())[0]
                .as<int>(),
            1)
      << "the session rotated once";
  // The next refresh, with the new token, rotates on; then the first token is two steps back.
  const pqxx::row next = work.exec_params1("SELECT new_refresh_token, access_token FROM authflow.session_refresh($1)",
                                           *refresh_tokens.begin());
  EXPECT_EQ(work.exec_params("SELECT * FROM authflow.session_refresh($1)", session.refresh).size(), 0u);
  EXPECT_EQ(work.exec_params1("SELECT count(*) FROM authflow.session_validate($1)", next[1].as<std::string>())[0].as<long>(),
            0)
      << "a reuse of the first token revoked the session";
  work.commit();
}

TEST(Rotation, ConcurrentRefreshesOfDifferentSessionsStayApart) {
  const std::string tenant = RotatingTenant();
  std::vector<Pair> sessions;
  for (int i = 0; i < 8; ++i)
    sessions.push_back(Create(tenant));
  std::vector<std::string> accesses(8);
  run_concurrently(8, [&](int i, pqxx::connection &connection) {
    pqxx::nontransaction work(connection);
    accesses[i] = work.exec_params1("SELECT access_token FROM authflow.session_refresh($1)", sessions[i].refresh)[0]
                      .as<std::string>();
  });
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(Validates(accesses[i]), 1) << "session " << i;
}

// Notifications: a listener sees a revocation only once it committed, never after a rollback.
TEST(Notifications, ARevocationIsNotifiedAtCommitAndNeverAfterARollback) {
  const std::string tenant = RotatingTenant();
  const Pair rolled_back = Create(tenant), committed = Create(tenant);
  auto listener = connect();
  std::string channel;
  {
    pqxx::nontransaction work(*listener);
    channel = work.exec_params1("SELECT authflow.notify_channel($1)", tenant)[0].as<std::string>();
    work.exec("LISTEN " + listener->quote_name(channel));
  }
  struct Receiver : pqxx::notification_receiver {
    Receiver(pqxx::connection &connection, const std::string &channel) : pqxx::notification_receiver(connection, channel) {}
    void operator()(const std::string &payload, int) override { payloads.push_back(payload); }
    std::vector<std::string> payloads;
  } receiver(*listener, channel);

  auto writer = connect();
  {
    pqxx::work work(*writer);
    EXPECT_TRUE(work.exec_params1("SELECT authflow.session_revoke($1)", committed.refresh)[0].as<bool>());
    listener->get_notifs();
    EXPECT_TRUE(receiver.payloads.empty()) << "nothing before the commit";
    work.commit();
  }
  {
    pqxx::work work(*writer);
    EXPECT_TRUE(work.exec_params1("SELECT authflow.session_revoke($1)", rolled_back.refresh)[0].as<bool>());
    work.abort();
  }
  // A last committed revoke marks the end: once it arrives, everything before it has arrived.
  const Pair marker = Create(tenant);
  {
    pqxx::work work(*writer);
    work.exec_params("SELECT authflow.session_revoke($1)", marker.refresh);
    work.commit();
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (receiver.payloads.size() < 2 && std::chrono::steady_clock::now() < deadline)
    listener->await_notification(1, 0);
  ASSERT_EQ(receiver.payloads.size(), 2u) << "the committed revoke and the marker, not the rolled-back one";
  EXPECT_NE(receiver.payloads[0].find("\"event\": \"session_revoked\""), std::string::npos) << receiver.payloads[0];
  EXPECT_NE(receiver.payloads[0].find("\"tenant\": \"" + tenant + "\""), std::string::npos) << receiver.payloads[0];
  for (const std::string &payload : receiver.payloads)
    for (const Pair *pair : {&rolled_back, &committed, &marker})
      EXPECT_EQ(payload.find(pair->refresh.substr(37)), std::string::npos) << "no secret in a notification";
  EXPECT_EQ(Validates(rolled_back.access), 1) << "the rolled-back revoke changed nothing";
}

} // namespace
