// sessions_integration_test.cpp: the session store under real concurrent connections, a crash,
// and the real pg_cron scheduler.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "database.hpp"

namespace {

using authflow::testing::connect;
using authflow::testing::run_concurrently;
using authflow::testing::unique_name;

struct Tokens {
  std::string session_id;
  std::string refresh;
  std::string access;
};

Tokens CreateSession(pqxx::connection &connection, const std::string &user, const std::string &handle = "h.test") {
  pqxx::work work(connection);
  const pqxx::row row = work.exec_params1(
      "SELECT session_id::text, refresh_token, access_token FROM authflow.session_create($1, $2)", user, handle);
  work.commit();
  return {row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>()};
}

// Refresh returns the new access token, or "" when the refresh token was refused.
std::string Refresh(pqxx::connection &connection, const std::string &refresh_token) {
  pqxx::work work(connection);
  const pqxx::result result = work.exec_params("SELECT access_token FROM authflow.session_refresh($1)", refresh_token);
  work.commit();
  return result.empty() ? "" : result[0][0].as<std::string>();
}

// Validate returns the user id of a live access token, or "" when there is none.
std::string Validate(pqxx::connection &connection, const std::string &access_token) {
  pqxx::work work(connection);
  const pqxx::result result =
      work.exec_params("SELECT user_id, handle FROM authflow.session_validate($1)", access_token);
  work.commit();
  if (result.empty())
    return "";
  if (result[0][0].is_null() || result[0][1].is_null())
    return "<incomplete row>";
  return result[0][0].as<std::string>();
}

TEST(SessionConcurrency, ConcurrentRefreshesLeaveExactlyOneWorkingAccessToken) {
  auto setup = connect();
  const Tokens session = CreateSession(*setup, unique_name("refresh-race"));
  constexpr int kClients = 16;
  std::vector<std::string> access_tokens(kClients);
  run_concurrently(
      kClients, [&](int i, pqxx::connection &connection) { access_tokens[i] = Refresh(connection, session.refresh); });

  int working = 0;
  for (const auto &token : access_tokens) {
    ASSERT_FALSE(token.empty()) << "every refresh of a live session succeeds";
    if (!Validate(*setup, token).empty())
      ++working;
  }
  EXPECT_EQ(working, 1);
  EXPECT_TRUE(Validate(*setup, session.access).empty()) << "the original access token is dead";
}

TEST(SessionConcurrency, ConcurrentRevokesRevokeExactlyOnce) {
  auto setup = connect();
  const Tokens session = CreateSession(*setup, unique_name("revoke-race"));
  std::atomic<int> revoked{0};
  run_concurrently(16, [&](int, pqxx::connection &connection) {
    pqxx::work work(connection);
    if (work.exec_params1("SELECT authflow.session_revoke($1)", session.refresh)[0].as<bool>())
      ++revoked;
    work.commit();
  });
  EXPECT_EQ(revoked.load(), 1);
  EXPECT_TRUE(Validate(*setup, session.access).empty());
}

TEST(SessionConcurrency, ValidateNeverReturnsAReplacedToken) {
  auto setup = connect();
  const std::string user = unique_name("replaced");
  const Tokens session = CreateSession(*setup, user);
  std::mutex mutex;
  std::vector<std::string> replaced;
  std::atomic<bool> done{false};
  std::atomic<int> stale_hits{0}, checks{0};

  run_concurrently(4, [&](int i, pqxx::connection &connection) {
    if (i == 0) {
      std::string current = session.access;
      for (int n = 0; n < 300; ++n) {
        const std::string next = Refresh(connection, session.refresh);
        ASSERT_FALSE(next.empty());
        std::lock_guard<std::mutex> lock(mutex);
        replaced.push_back(current); // committed: from now on `current` must never validate
        current = next;
      }
      done = true;
      return;
    }
    while (!done) {
      std::string token;
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (!replaced.empty())
          token = replaced[checks % replaced.size()];
      }
      if (token.empty())
        continue;
      if (!Validate(connection, token).empty())
        ++stale_hits;
      ++checks;
    }
  });
  EXPECT_GT(checks.load(), 0);
  EXPECT_EQ(stale_hits.load(), 0);
}

TEST(SessionConcurrency, RevokeAllReachesSessionsRefreshedConcurrently) {
  auto setup = connect();
  const std::string user = unique_name("revoke-all");
  constexpr int kSessions = 20;
  std::vector<Tokens> sessions;
  for (int i = 0; i < kSessions; ++i)
    sessions.push_back(CreateSession(*setup, user));

  std::atomic<bool> revoked{false};
  int deleted = -1;
  std::vector<std::string> issued_after;
  std::mutex mutex;
  run_concurrently(5, [&](int i, pqxx::connection &connection) {
    if (i == 0) {
      pqxx::work work(connection);
      deleted = work.exec_params1("SELECT authflow.session_revoke_all($1)", user)[0].as<int>();
      work.commit();
      revoked = true;
      return;
    }
    // Refreshers: each refreshes its share of the sessions over and over until revoke_all is done.
    for (int round = 0; round < 50 && !revoked; ++round) {
      for (int s = i - 1; s < kSessions; s += 4) {
        const std::string token = Refresh(connection, sessions[s].refresh);
        if (revoked && !token.empty()) {
          std::lock_guard<std::mutex> lock(mutex);
          issued_after.push_back(token);
        }
      }
    }
  });

  EXPECT_EQ(deleted, kSessions) << "every live session is counted, however often it was refreshed";
  pqxx::work work(*setup);
  EXPECT_EQ(work.exec_params1("SELECT count(*) FROM authflow.session_list($1)", user)[0].as<int>(), 0);
  work.commit();
  for (const auto &session : sessions) {
    EXPECT_TRUE(Refresh(*setup, session.refresh).empty()) << "no session survives revoke_all";
  }
  for (const auto &token : issued_after)
    EXPECT_TRUE(Validate(*setup, token).empty());
}

TEST(SessionConcurrency, ReadersSeeWholeSessionsOrNothing) {
  std::mutex mutex;
  std::vector<Tokens> published;
  std::atomic<bool> done{false};
  std::atomic<int> incomplete{0}, seen{0};
  const std::string user = unique_name("atomic");
  run_concurrently(4, [&](int i, pqxx::connection &connection) {
    if (i == 0) {
      for (int n = 0; n < 200; ++n) {
        const Tokens tokens = CreateSession(connection, user);
        {
          std::lock_guard<std::mutex> lock(mutex);
          published.push_back(tokens);
        }
        if (n % 2 == 0) {
          pqxx::work work(connection);
          work.exec_params("SELECT authflow.session_revoke($1)", tokens.refresh);
          work.commit();
        }
      }
      done = true;
      return;
    }
    while (!done) {
      Tokens tokens;
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (published.empty())
          continue;
        tokens = published[(seen + i) % published.size()];
      }
      const std::string result = Validate(connection, tokens.access);
      if (result == "<incomplete row>" || (!result.empty() && result != user))
        ++incomplete;
      ++seen;
    }
  });
  EXPECT_GT(seen.load(), 0);
  EXPECT_EQ(incomplete.load(), 0);
}

// Crash: unlogged sessions are gone after an immediate stop; after set_durable(true) they survive.
TEST(SessionDurability, ImmediateStopEmptiesUnloggedSessionsButNotDurableOnes) {
  Tokens volatile_session;
  {
    auto connection = connect();
    volatile_session = CreateSession(*connection, unique_name("crash"));
    ASSERT_FALSE(Validate(*connection, volatile_session.access).empty());
  }
  ASSERT_EQ(authflow::testing::cluster_command("restart immediate"), 0);
  {
    auto connection = connect();
    EXPECT_TRUE(Validate(*connection, volatile_session.access).empty()) << "unlogged sessions vanish in a crash";
    pqxx::work work(*connection);
    work.exec("SELECT authflow.set_durable(true)");
    work.commit();
  }
  Tokens durable_session;
  {
    auto connection = connect();
    durable_session = CreateSession(*connection, unique_name("crash-durable"));
  }
  const int restarted = authflow::testing::cluster_command("restart immediate");
  auto connection = connect();
  const std::string survivor = Validate(*connection, durable_session.access);
  pqxx::work work(*connection);
  work.exec("SELECT authflow.set_durable(false)");
  work.commit();
  ASSERT_EQ(restarted, 0);
  EXPECT_FALSE(survivor.empty()) << "durable sessions survive a crash";
}

// The real scheduler: the job runs purge_expired, which deletes the expired session only.
TEST(SessionPurge, PgCronJobDeletesExpiredSessionsOnly) {
  auto connection = connect();
  const Tokens expired = CreateSession(*connection, unique_name("cron-expired"));
  const Tokens live = CreateSession(*connection, unique_name("cron-live"));
  {
    pqxx::work work(*connection);
    work.exec_params(
        "UPDATE authflow.sessions SET expires_at = now() - interval '1 second' WHERE session_id = $1::uuid",
        expired.session_id);
    work.exec("SELECT authflow.schedule_purge()");
    work.commit();
  }
  long last_run_before = 0;
  {
    pqxx::work work(*connection);
    last_run_before = work.exec1("SELECT coalesce(max(runid), 0) FROM cron.job_run_details")[0].as<long>();
    work.commit();
  }
  // pg_cron starts the job at the next minute boundary; wait for a finished run, bounded.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(130);
  std::string status;
  while (std::chrono::steady_clock::now() < deadline) {
    pqxx::work work(*connection);
    const pqxx::result result =
        work.exec_params("SELECT d.status FROM cron.job_run_details d JOIN cron.job j USING (jobid) "
                         "WHERE j.jobname = 'authflow-purge' AND d.runid > $1 AND d.status IN ('succeeded', 'failed') "
                         "ORDER BY d.runid DESC LIMIT 1",
                         last_run_before);
    work.commit();
    if (!result.empty()) {
      status = result[0][0].as<std::string>();
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500)); // polling an external scheduler
  }
  pqxx::work work(*connection);
  const int expired_left =
      work.exec_params1("SELECT count(*) FROM authflow.sessions WHERE session_id = $1::uuid", expired.session_id)[0]
          .as<int>();
  work.exec("SELECT authflow.unschedule_purge()");
  work.commit();
  ASSERT_EQ(status, "succeeded");
  EXPECT_EQ(expired_left, 0);
  EXPECT_FALSE(Validate(*connection, live.access).empty());
}

} // namespace
