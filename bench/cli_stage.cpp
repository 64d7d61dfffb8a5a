// cli_stage.cpp: the CLI login flow and the anonymous-user merge, measured only where they are
// installed (authflow.cli_start and friends); otherwise the report says they were skipped.
#include <pqxx/pqxx>

#include <iostream>

#include "stages.hpp"

namespace authflow::bench {

namespace {

void say(const std::string &line) { std::cout << line << std::endl; }

// CliClient runs whole CLI logins: start, three polls while waiting, the browser completes it
// with its user's refresh token, and the last poll hands the CLI its new session.
class CliClient {
public:
  explicit CliClient(std::string browser_refresh_token)
      : browser_refresh_token_(std::move(browser_refresh_token)), connection_("") {
    connection_.prepare("start", "SELECT polling_code, login_code FROM authflow.cli_start()");
    connection_.prepare("poll", "SELECT status, refresh_token FROM authflow.cli_poll($1)");
    connection_.prepare("complete", "SELECT authflow.cli_complete($1, $2)");
    for (const char *name : {"start", "poll", "complete"})
      connection_.prepare_now(name);
  }

  bool cycle() {
    pqxx::nontransaction tx(connection_);
    auto started = tx.exec_prepared("start");
    if (started.size() != 1)
      return false;
    std::string polling_code = started[0][0].as<std::string>();
    std::string login_code = started[0][1].as<std::string>();
    for (int i = 0; i < 3; ++i) {
      auto polled = tx.exec_prepared("poll", polling_code);
      if (polled.size() != 1 || polled[0][0].as<std::string>() != "waiting")
        return false;
    }
    auto completed = tx.exec_prepared("complete", login_code, browser_refresh_token_);
    if (completed.size() != 1 || !completed[0][0].as<bool>())
      return false;
    auto polled = tx.exec_prepared("poll", polling_code);
    return polled.size() == 1 && polled[0][0].as<std::string>() == "success" && !polled[0][1].is_null();
  }

private:
  std::string browser_refresh_token_;
  pqxx::connection connection_;
};

void run_cycles(Context &context) {
  auto &cli = context.results.cli;
  Side &sql = *context.sql;
  for (int clients : {4, 16}) {
    say("cli: full cycles, " + std::to_string(clients) + " clients");
    // Each client logs in as its own browser user, whose session it takes from the preloaded ones.
    std::vector<std::unique_ptr<CliClient>> connected;
    for (int i = 0; i < clients && i < static_cast<int>(sql.live.size()); ++i)
      connected.push_back(std::make_unique<CliClient>(sql.live[static_cast<std::size_t>(i)].refresh));
    std::vector<Operation> operations;
    for (auto &client : connected)
      operations.push_back([c = client.get()] { return c->cycle(); });
    cli.cycles[clients] = summarize(run_timed(operations, context.options.seconds));
  }
}

// run_merge moves 10000 rows of an application table from an anonymous user to a signed-in one,
// while other users validate their sessions.
void run_merge(Context &context) {
  auto &cli = context.results.cli;
  const long rows = 10000;
  try {
    pqxx::connection connection("");
    {
      pqxx::nontransaction tx(connection);
      tx.exec("SET client_min_messages = warning");
      tx.exec("CREATE SCHEMA IF NOT EXISTS authflow_bench_app");
      tx.exec("CREATE TABLE IF NOT EXISTS authflow_bench_app.notes (note_id bigint GENERATED ALWAYS AS IDENTITY "
              "PRIMARY KEY, owner text NOT NULL, body text NOT NULL)");
      tx.exec("CREATE INDEX IF NOT EXISTS notes_owner ON authflow_bench_app.notes (owner)");
      tx.exec("TRUNCATE authflow_bench_app.notes");
    }
    try {
      pqxx::nontransaction tx(connection);
      tx.exec("SELECT authflow.merge_rule_add('authflow_bench_app.notes', 'owner')");
    } catch (const pqxx::sql_error &error) {
      say(std::string("merge: merge_rule_add: ") + error.what() + " (kept going: the rule may exist already)");
    }
    std::string anonymous, target = "did:plc:merge-target-" + random_hex(8);
    {
      pqxx::nontransaction tx(connection);
      anonymous = tx.exec("SELECT user_id FROM authflow.user_create_anonymous()")[0][0].as<std::string>();
      tx.exec_params("INSERT INTO authflow_bench_app.notes (owner, body) "
                     "SELECT $1, 'note ' || g FROM generate_series(1, $2) AS g",
                     anonymous, rows);
      tx.exec_params("SELECT authflow.session_create($1, 'merge-target.test')", target);
      tx.exec("ANALYZE authflow_bench_app.notes");
    }
    say("merge: validate while idle");
    {
      auto connected = clients_for(*context.sql, 4);
      cli.merge_idle =
          summarize(run_timed(operations_of(connected, "validate"), std::max(2.0, context.cell_seconds())));
      context.sql->collect(connected);
    }
    say("merge: " + std::to_string(rows) + " rows under validate load");
    auto measured = validate_during(
        *context.sql, 4,
        [&] {
          pqxx::work tx(connection);
          tx.exec("SET LOCAL statement_timeout = '5min'");
          tx.exec_params("SELECT authflow.merge_anonymous_user($1, $2)", anonymous, target);
          tx.commit();
        },
        cli.merge_seconds);
    cli.merge_during = summarize(measured);
    pqxx::nontransaction tx(connection);
    cli.merge_rows =
        tx.exec_params("SELECT count(*) FROM authflow_bench_app.notes WHERE owner = $1", target)[0][0].as<long>();
    cli.merge_ran = true;
  } catch (const std::exception &error) {
    cli.merge_error = error.what();
    say("merge: failed: " + cli.merge_error);
  }
}

} // namespace

bool cli_installed() {
  return sql_function_exists("authflow.cli_start(interval, text, jsonb, text)") &&
         sql_function_exists("authflow.cli_poll(text, text, text, text)") &&
         sql_function_exists("authflow.cli_complete(text, text, boolean, text)");
}

void run_cli(Context &context) {
  auto &cli = context.results.cli;
  if (!cli.installed) {
    say("CLI: not installed, skipped");
    return;
  }
  run_cycles(context);
  // user_create_anonymous and merge_rule_add take optional arguments: look them up by name.
  auto named = [](const std::string &name) {
    return !sql_value("SELECT 1 FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace "
                      "WHERE n.nspname = 'authflow' AND p.proname = '" +
                      name + "'")
                .empty();
  };
  if (sql_function_exists("authflow.merge_anonymous_user(text, text, text)") && named("user_create_anonymous") &&
      named("merge_rule_add")) {
    run_merge(context);
  } else {
    cli.merge_error = "merge functions not installed";
    say("merge: not installed, skipped");
  }
}

} // namespace authflow::bench
