// cli_integration_test.cpp: the CLI login flow and the merge under real concurrent connections.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <string>
#include <vector>

#include <unistd.h>

#include "database.hpp"

namespace {

using authflow::testing::connect;
using authflow::testing::run_concurrently;
using authflow::testing::unique_name;

struct Attempt {
  std::string polling_code;
  std::string login_code;
};

Attempt StartAttempt(pqxx::connection &connection, const std::string &anon_refresh_token = "") {
  pqxx::work work(connection);
  const pqxx::row row =
      anon_refresh_token.empty()
          ? work.exec1("SELECT polling_code, login_code FROM authflow.cli_start()")
          : work.exec_params1("SELECT polling_code, login_code FROM authflow.cli_start(anon_refresh_token => $1)",
                              anon_refresh_token);
  work.commit();
  return {row[0].as<std::string>(), row[1].as<std::string>()};
}

// RefreshTokenOf creates a session for a (new) user and returns its refresh token.
std::string RefreshTokenOf(pqxx::connection &connection, const std::string &user) {
  pqxx::work work(connection);
  const std::string token =
      work.exec_params1("SELECT refresh_token FROM authflow.session_create($1)", user)[0].as<std::string>();
  work.commit();
  return token;
}

struct Anonymous {
  std::string user_id;
  std::string refresh_token;
};

Anonymous CreateAnonymous(pqxx::connection &connection) {
  pqxx::work work(connection);
  const pqxx::row row = work.exec1("SELECT user_id, refresh_token FROM authflow.user_create_anonymous()");
  work.commit();
  return {row[0].as<std::string>(), row[1].as<std::string>()};
}

// Complete returns "" on success, else the SQLSTATE of the error.
std::string Complete(pqxx::connection &connection, const Attempt &attempt, const std::string &refresh_token,
                     bool merge) {
  try {
    pqxx::work work(connection);
    work.exec_params("SELECT authflow.cli_complete($1, $2, $3)", attempt.login_code, refresh_token, merge);
    work.commit();
    return "";
  } catch (const pqxx::sql_error &error) {
    return error.sqlstate();
  }
}

std::string Poll(pqxx::connection &connection, const Attempt &attempt) {
  pqxx::work work(connection);
  const std::string status =
      work.exec_params1("SELECT status FROM authflow.cli_poll($1)", attempt.polling_code)[0].as<std::string>();
  work.commit();
  return status;
}

TEST(CliConcurrency, ThirtyTwoConcurrentPollsAfterCompletionSucceedExactlyOnce) {
  auto setup = connect();
  const Attempt attempt = StartAttempt(*setup);
  ASSERT_EQ(Complete(*setup, attempt, RefreshTokenOf(*setup, unique_name("poller")), false), "");
  std::atomic<int> successes{0}, used{0};
  run_concurrently(32, [&](int, pqxx::connection &connection) {
    const std::string status = Poll(connection, attempt);
    if (status == "success")
      ++successes;
    if (status == "used")
      ++used;
  });
  EXPECT_EQ(successes.load(), 1);
  EXPECT_EQ(used.load(), 31);
}

TEST(CliConcurrency, LogOutEverywhereRacingThePickUpLeavesNoSession) {
  auto setup = connect();
  for (int round = 0; round < 8; ++round) {
    const std::string user = unique_name("cli-racer");
    const Attempt attempt = StartAttempt(*setup);
    ASSERT_EQ(Complete(*setup, attempt, RefreshTokenOf(*setup, user), false), "");
    std::string status;
    run_concurrently(2, [&](int i, pqxx::connection &connection) {
      if (i == 0) {
        status = Poll(connection, attempt);
      } else {
        pqxx::work work(connection);
        work.exec_params("SELECT authflow.session_revoke_all($1)", user);
        work.commit();
      }
    });
    EXPECT_TRUE(status == "success" || status == "expired") << status;
    pqxx::work work(*setup);
    EXPECT_EQ(work.exec_params1("SELECT count(*) FROM authflow.session_list($1)", user)[0].as<long>(), 0)
        << "round " << round << ": either the poll saw the revocation, or its new session was revoked with the rest";
  }
}

TEST(CliConcurrency, ThirtyTwoConcurrentCompletionsHaveOneWinner) {
  auto setup = connect();
  const Attempt attempt = StartAttempt(*setup);
  std::vector<std::string> browsers;
  for (int i = 0; i < 32; ++i)
    browsers.push_back(RefreshTokenOf(*setup, unique_name("completer")));
  std::atomic<int> wins{0}, refused{0};
  run_concurrently(32, [&](int i, pqxx::connection &connection) {
    const std::string outcome = Complete(connection, attempt, browsers[i], false);
    if (outcome.empty())
      ++wins;
    if (outcome == "AF020")
      ++refused;
  });
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(refused.load(), 31) << "every loser gets 'Invalid login code or the code has expired'";
}

TEST(CliConcurrency, ConcurrentClaimsHaveOneWinner) {
  auto setup = connect();
  const Anonymous anon = CreateAnonymous(*setup);
  const Attempt attempt = StartAttempt(*setup, anon.refresh_token);
  std::atomic<int> wins{0}, refused{0};
  run_concurrently(16, [&](int, pqxx::connection &connection) {
    try {
      pqxx::work work(connection);
      work.exec_params1("SELECT user_id FROM authflow.cli_claim_anon_session($1)", attempt.login_code);
      work.commit();
      ++wins;
    } catch (const pqxx::sql_error &error) {
      if (error.sqlstate() == "AF021")
        ++refused;
    }
  });
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(refused.load(), 15);
  EXPECT_EQ(Poll(*setup, attempt), "waiting");
}

// An application table with user-owned rows, registered for the merge, dropped afterwards.
class MergeTable {
public:
  explicit MergeTable(pqxx::connection &connection)
      : connection_(connection), name_("merge_items_" + std::to_string(::getpid())) {
    pqxx::work work(connection_);
    work.exec("CREATE TABLE public." + name_ + " (owner text NOT NULL, item integer NOT NULL, UNIQUE (owner, item))");
    work.exec_params("SELECT authflow.merge_rule_add($1::regclass, 'owner', '{item}', 'keep_target')",
                     "public." + name_);
    work.commit();
  }
  ~MergeTable() {
    pqxx::work work(connection_);
    work.exec_params("SELECT authflow.merge_rule_remove($1::regclass)", "public." + name_);
    work.exec("DROP TABLE public." + name_);
    work.commit();
  }
  void Insert(const std::string &owner, int first, int count) {
    pqxx::work work(connection_);
    work.exec_params("INSERT INTO public." + name_ + " SELECT $1, g FROM generate_series($2::int, $3::int) g", owner,
                     first, first + count - 1);
    work.commit();
  }
  std::map<std::string, int> RowsByOwner() {
    pqxx::work work(connection_);
    std::map<std::string, int> rows;
    for (const auto &row : work.exec("SELECT owner, count(*) FROM public." + name_ + " GROUP BY owner")) {
      rows[row[0].as<std::string>()] = row[1].as<int>();
    }
    work.commit();
    return rows;
  }

private:
  pqxx::connection &connection_;
  std::string name_;
};

TEST(CliMerge, ConcurrentMergesOfOneAnonymousUserMoveItsRowsOnce) {
  auto setup = connect();
  MergeTable table(*setup);
  const Anonymous anon = CreateAnonymous(*setup);
  table.Insert(anon.user_id, 1, 100);
  constexpr int kAttempts = 8;
  std::vector<Attempt> attempts;
  std::vector<std::string> targets, target_tokens;
  for (int i = 0; i < kAttempts; ++i) {
    attempts.push_back(StartAttempt(*setup, anon.refresh_token));
    targets.push_back(unique_name("merge-target"));
    target_tokens.push_back(RefreshTokenOf(*setup, targets.back()));
  }
  std::vector<std::string> outcomes(kAttempts);
  run_concurrently(kAttempts, [&](int i, pqxx::connection &connection) {
    outcomes[i] = Complete(connection, attempts[i], target_tokens[i], true);
  });
  for (const auto &outcome : outcomes)
    EXPECT_EQ(outcome, "") << "no deadlock or error reaches the caller";
  const auto rows = table.RowsByOwner();
  ASSERT_EQ(rows.size(), 1u) << "all rows went to exactly one target";
  EXPECT_EQ(rows.begin()->second, 100) << "no row lost or duplicated";
  EXPECT_NE(rows.begin()->first, anon.user_id);
}

TEST(CliMerge, ConcurrentMergesIntoOneTargetKeepEveryRow) {
  auto setup = connect();
  MergeTable table(*setup);
  const std::string target = unique_name("merge-shared-target");
  const std::string target_token = RefreshTokenOf(*setup, target);
  table.Insert(target, 1, 10);
  constexpr int kAnonymous = 8;
  std::vector<Attempt> attempts;
  for (int i = 0; i < kAnonymous; ++i) {
    const Anonymous anon = CreateAnonymous(*setup);
    table.Insert(anon.user_id, 1000 * (i + 1), 50); // keys of their own: no collisions
    table.Insert(anon.user_id, 1, 1);               // and one that collides with the target's
    attempts.push_back(StartAttempt(*setup, anon.refresh_token));
  }
  std::vector<std::string> outcomes(kAnonymous);
  run_concurrently(kAnonymous, [&](int i, pqxx::connection &connection) {
    outcomes[i] = Complete(connection, attempts[i], target_token, true);
  });
  for (const auto &outcome : outcomes)
    EXPECT_EQ(outcome, "");
  const auto rows = table.RowsByOwner();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows.at(target), 10 + kAnonymous * 50) << "moved rows all arrive; colliding ones yield to the target";
}

} // namespace
