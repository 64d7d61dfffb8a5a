// durability_integration_test.cpp: what a crash can lose when first-time users sign in, in
// both modes (docs/operations.md, "What a crash loses"). While sessions are volatile, a new
// user's row is committed without waiting for the WAL flush (extension/pg_commit.cpp); with
// set_durable(true), every commit waits. The crash is a real one: pg_ctl stop -m immediate.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "database.hpp"

namespace {

using authflow::testing::cluster_command;
using authflow::testing::connect;
using authflow::testing::run_concurrently;
using authflow::testing::unique_name;

constexpr int kClients = 4;
constexpr int kUsersPerClient = 50;

// SignInNewUsers creates one session for each of kClients x kUsersPerClient users never seen
// before, one autocommit transaction each, on concurrent connections; returns their user ids.
std::vector<std::string> SignInNewUsers(const std::string &prefix) {
  std::vector<std::vector<std::string>> ids(kClients);
  run_concurrently(kClients, [&](int client, pqxx::connection &connection) {
    for (int i = 0; i < kUsersPerClient; ++i) {
      const std::string id = prefix + "-" + std::to_string(client) + "-" + std::to_string(i);
      pqxx::nontransaction work(connection);
      work.exec_params("SELECT session_id FROM authflow.session_create($1, 'h.test')", id);
      ids[client].push_back(id);
    }
  });
  std::vector<std::string> all;
  for (auto &part : ids)
    all.insert(all.end(), part.begin(), part.end());
  return all;
}

// WalWrites is the server's count of WAL writes (pg_stat_wal.wal_write), after this backend's
// own counts are flushed into it.
long WalWrites(pqxx::connection &connection) {
  {
    pqxx::nontransaction work(connection);
    work.exec("SELECT pg_stat_force_next_flush()");
  }
  pqxx::nontransaction read(connection);  // a new statement: the forced flush happened before it
  return read.exec1("SELECT wal_write FROM pg_stat_wal")[0].as<long>();
}

// NewUserCommitWrites counts the WAL writes of `count` new-user sign-ins on one connection,
// each its own transaction: a commit that waits for the flush writes the WAL itself, one that
// does not leaves it to the WAL writer (a few writes a second).
long NewUserCommitWrites(pqxx::connection &connection, const std::string &prefix, int count) {
  const long before = WalWrites(connection);
  for (int i = 0; i < count; ++i) {
    pqxx::nontransaction work(connection);
    work.exec_params("SELECT session_id FROM authflow.session_create($1, 'h.test')", prefix + std::to_string(i));
  }
  return WalWrites(connection) - before;
}

long CountUsers(pqxx::transaction_base &work, const std::string &prefix) {
  return work.exec_params1("SELECT count(*) FROM authflow.users WHERE user_id LIKE $1 || '%'", prefix)[0].as<long>();
}

void SetDurable(bool durable) {
  auto connection = connect();
  pqxx::nontransaction work(*connection);
  work.exec_params("SELECT authflow.set_durable($1)", durable);
}

// ScopedDurable switches sessions to logged tables for one test and back afterwards.
struct ScopedDurable {
  ScopedDurable() { SetDurable(true); }
  ~ScopedDurable() {
    try {
      SetDurable(false);
    } catch (const std::exception &) {
    }
  }
};

TEST(NewUserCommits, VolatileModeDoesNotWaitForTheFlushDurableModeDoes) {
  constexpr int kCount = 300;
  auto connection = connect();
  const long volatile_writes = NewUserCommitWrites(*connection, unique_name("relaxed"), kCount);
  long durable_writes;
  {
    ScopedDurable durable;
    durable_writes = NewUserCommitWrites(*connection, unique_name("flushed"), kCount);
  }
  EXPECT_GE(durable_writes, kCount) << "with set_durable(true) every commit writes and flushes its WAL";
  EXPECT_LT(volatile_writes, kCount / 3) << "while sessions are volatile, a new user's commit does not wait";
}

TEST(NewUserCommits, OtherLoggedWritesInTheTransactionKeepItSynchronous) {
  constexpr int kCount = 100;
  auto connection = connect();
  {
    pqxx::nontransaction work(*connection);
    work.exec("CREATE TABLE IF NOT EXISTS public.durability_app_rows (user_id text PRIMARY KEY)");
  }
  const std::string prefix = unique_name("mixed");
  const long before = WalWrites(*connection);
  for (int i = 0; i < kCount; ++i) {
    // The application's own row after the sign-in, in the same transaction: it must be flushed.
    pqxx::work work(*connection);
    const std::string id = prefix + std::to_string(i);
    work.exec_params("SELECT session_id FROM authflow.session_create($1, 'h.test')", id);
    work.exec_params("INSERT INTO public.durability_app_rows VALUES ($1)", id);
    work.commit();
  }
  const long writes = WalWrites(*connection) - before;
  // And the row written before the sign-in, in the same transaction.
  std::string first_row = prefix + "-first";
  {
    pqxx::work work(*connection);
    work.exec_params("INSERT INTO public.durability_app_rows VALUES ($1)", first_row);
    work.exec_params("SELECT session_id FROM authflow.session_create($1, 'h.test')", first_row);
    work.commit();
  }
  ASSERT_EQ(cluster_command("restart immediate"), 0);
  auto after = connect();
  pqxx::nontransaction work(*after);
  EXPECT_GE(writes, kCount) << "a transaction with other logged writes commits synchronously";
  EXPECT_EQ(work.exec_params1("SELECT count(*) FROM public.durability_app_rows WHERE user_id LIKE $1 || '%'", prefix)[0]
                .as<long>(),
            kCount + 1)
      << "nothing the application committed is lost";
  EXPECT_EQ(CountUsers(work, prefix), kCount + 1) << "nor the users committed with it";
  work.exec("DROP TABLE public.durability_app_rows");
}

TEST(NewUserCrash, VolatileModeLeavesNoSessionWithoutItsUser) {
  const std::string prefix = unique_name("crash-volatile");
  const std::vector<std::string> ids = SignInNewUsers(prefix);
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(kClients * kUsersPerClient));
  ASSERT_EQ(cluster_command("restart immediate"), 0);
  auto connection = connect();
  pqxx::nontransaction work(*connection);
  EXPECT_EQ(work.exec1("SELECT count(*) FROM authflow.sessions")[0].as<long>(), 0) << "a crash empties volatile sessions";
  EXPECT_EQ(work.exec1("SELECT count(*) FROM authflow.cli_attempts")[0].as<long>(), 0);
  // Whatever users survived are whole rows of their tenant; signing in again recreates the rest.
  EXPECT_LE(CountUsers(work, prefix), static_cast<long>(ids.size()));
  const std::string again = ids.back();
  work.exec_params("SELECT session_id FROM authflow.session_create($1, 'h.test')", again);
  EXPECT_EQ(work.exec_params1("SELECT count(*) FROM authflow.users WHERE user_id = $1", again)[0].as<long>(), 1);
  EXPECT_EQ(work.exec_params1("SELECT count(*) FROM authflow.sessions AS s JOIN authflow.users AS u USING (user_key)"
                              " WHERE u.user_id = $1",
                              again)[0]
                .as<long>(),
            1);
}

TEST(NewUserCrash, DurableModeLosesNothingCommitted) {
  ScopedDurable durable;
  const std::string prefix = unique_name("crash-durable");
  const std::vector<std::string> ids = SignInNewUsers(prefix);
  ASSERT_EQ(cluster_command("restart immediate"), 0);
  auto connection = connect();
  pqxx::nontransaction work(*connection);
  EXPECT_EQ(CountUsers(work, prefix), static_cast<long>(ids.size())) << "every committed user survives";
  EXPECT_EQ(work.exec_params1("SELECT count(*) FROM authflow.sessions AS s JOIN authflow.users AS u USING (user_key)"
                              " WHERE u.user_id LIKE $1 || '%'",
                              prefix)[0]
                .as<long>(),
            static_cast<long>(ids.size()))
      << "and every committed session";
}

} // namespace
