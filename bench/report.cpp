// report.cpp: see report.hpp. Targets are reported, met or missed, never asserted.
#include "report.hpp"

#include "report_format.hpp"

#include <cmath>
#include <sstream>

namespace authflow::bench {

namespace {

std::string why_slower(const std::string &operation) {
  if (operation == "create")
    return "`session_create` reads the tenant and the user and inserts a row (heap and two indexes) in a "
           "transaction with an XID and a commit record, where the design's four commands are in-memory writes; " +
           sharing();
  if (operation == "validate")
    return "one call parses the token, hashes its secret and probes three primary keys, where the design does two "
           "GETs; " +
           sharing();
  if (operation == "refresh")
    return "`session_refresh` issues a token and updates the row (a new tuple version, with the user and tenant "
           "joined for the TTLs) in a transaction, where the design does four in-memory commands; " +
           sharing();
  if (operation == "revoke")
    return "`session_revoke` deletes the row (heap and two indexes) in a transaction, where the design does four "
           "in-memory commands; " +
           sharing();
  return "the mix is 90% validate, 8% refresh and 2% create: see those rows";
}

// why_below_floor says what an authflow write does that its floor does not (the instruction
// counts are in "Where the writes' time goes", from bench/profile-writes).
std::string why_below_floor(const std::string &operation) {
  if (operation == "create" || operation == "create_new_user")
    return std::string("`session_create` is a SECURITY DEFINER function call (its search_path set and reset), ") +
           "issues two tokens, and its insert joins the tenant and the user (two index probes the bare insert does "
           "not make)" +
           (operation == "create_new_user" ? "; a new user also inserts the user row (a logged table: WAL, two "
                                             "more indexes), though its commit does not wait for the flush"
                                           : "");
  if (operation == "refresh")
    return "`session_refresh` parses and hashes the token, derives the next pair (HMAC), and its update joins the "
           "user, the tenant and the rotation key: starting the executor for four relations is about half of its "
           "instructions, where the bare update touches one";
  return "`session_revoke` deletes the row, records a security event and sends a NOTIFY in the same "
         "transaction (the notification queue is one lock for the whole server)";
}

std::string size_line(const TableSize &size) {
  double rows = static_cast<double>(std::max(1L, size.rows));
  std::string line = "| " + count(static_cast<double>(size.rows)) + " | " +
                     count(static_cast<double>(size.total_bytes)) + " | " +
                     fixed(static_cast<double>(size.heap_bytes) / rows, 0) + " | " +
                     fixed(static_cast<double>(size.index_bytes) / rows, 0) + " | " +
                     fixed(static_cast<double>(size.total_bytes) / rows, 0) + " | " +
                     count(static_cast<double>(size.rows) / std::max(size.create_seconds, 1e-9)) + " |";
  for (int clients : {4, 16}) {
    auto found = size.validate.find(clients);
    line += found == size.validate.end()
                ? " — |"
                : " " + count(found->second.rate) + " / " + micros(found->second.p99_us) + " |";
  }
  return line;
}

} // namespace

std::string render_report(const Options &options, const Results &results) {
  std::ostringstream out;
  std::vector<Target> targets;

  out << "## Results\n\n";
  out << "Run: " << (options.quick ? "**quick run** (`bench/run --quick`)" : "full run (`make bench`)")
      << (options.large ? " with `--large`" : "") << "; " << fixed(options.seconds, 1)
      << " s measured per cell and side, in " << options.rounds << " round" << (options.rounds > 1 ? "s" : "") << "; "
      << count(static_cast<double>(results.preload)) << " sessions preloaded on each side. "
      << "Latencies in microseconds; ops/s counts successful operations only.\n\n";

  if (!results.tokens.empty()) {
    out << "### Token primitives\n\n"
        << "A token and the SHA-256 of its secret: `authflow.token_issue('access', gen_random_uuid())` against the "
           "same composition from pgcrypto (`gen_random_bytes(32)`, base64url through `encode` and `translate`, "
           "`digest(..., 'sha256')`), each a pgbench script (`bench/sql`), prepared, alternating.\n\n"
        << "| clients | authflow ops/s | p50 | p99 | pgcrypto ops/s | p50 | p99 | authflow / pgcrypto |\n"
        << "|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    for (const auto &[clients, pair] : results.tokens) {
      out << "| " << clients << " | " << count(pair.authflow.rate()) << " | " << micros(pair.authflow.p50_us()) << " | "
          << micros(pair.authflow.p99_us()) << " | " << count(pair.other.rate()) << " | " << micros(pair.other.p50_us())
          << " | " << micros(pair.other.p99_us()) << " | " << ratio(pair.authflow.rate(), pair.other.rate()) << " |\n";
    }
    out << "\n";
  }

  if (!results.sessions.empty()) {
    out << "### Session operations: authflow over SQL against the Valkey design\n\n"
        << "| operation | clients | authflow ops/s | p50 | p99 | errors | Valkey design ops/s | p50 | p99 | errors | "
           "authflow / Valkey | target |\n"
        << "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n";
    for (const auto &operation : Results::operations()) {
      auto found = results.sessions.find(operation);
      if (found == results.sessions.end())
        continue;
      for (const auto &[clients, pair] : found->second) {
        const auto &a = pair.authflow;
        const auto &v = pair.other;
        std::string target = "—";
        if (clients == 4 || clients == 16) {
          double wanted = clients == 4 ? 2.0 : 1.5;
          bool fast = a.rate() >= wanted * v.rate();
          bool tail = a.p99_us() <= v.p99_us();
          bool met = fast && tail;
          target = "≥ " + fixed(wanted, 1) + "×, p99 ≤: " + verdict(met);
          std::string why;
          if (!fast)
            why = why_slower(operation);
          if (!tail)
            why += std::string(why.empty() ? "" : "; ") + "its p99 (" + micros(a.p99_us()) +
                   " µs) is above the design's (" + micros(v.p99_us()) + " µs)";
          targets.push_back(
              {"`" + operation + "` at " + std::to_string(clients) + " clients ≥ " + fixed(wanted, 1) +
                   "× the Valkey design, p99 no worse",
               met, ratio(a.rate(), v.rate()) + ", p99 " + micros(a.p99_us()) + " vs " + micros(v.p99_us()) + " µs",
               why});
        }
        out << "| " << operation << " | " << clients << " | " << count(a.rate()) << " | " << micros(a.p50_us()) << " | "
            << micros(a.p99_us()) << " | " << a.errors << " | " << count(v.rate()) << " | " << micros(v.p50_us())
            << " | " << micros(v.p99_us()) << " | " << v.errors << " | " << ratio(a.rate(), v.rate()) << " | " << target
            << " |\n";
      }
    }
    out << "\n";
    std::uint64_t exhausted = 0;
    for (const auto &[operation, by_clients] : results.sessions)
      for (const auto &[clients, pair] : by_clients)
        exhausted += pair.authflow.exhausted + pair.other.exhausted;
    if (exhausted > 0)
      out << "In " << exhausted << " cell-threads a client ran out of sessions to revoke before the end of the cell "
          << "and stopped early (the top-up underestimated the rate).\n\n";
  }

  if (!results.rotation.empty()) {
    out << "### Refresh-token rotation: refresh with rotation on against off\n\n"
        << "`session_refresh` in two tenants alike but for `refresh_rotation`, in the same rounds. Each client "
           "refreshes its own sessions in turn and presents the refresh token the previous refresh returned: with "
           "rotation every refresh derives the new pair from the presented secret (HMAC-SHA-256) and keeps the "
           "replaced refresh hash, in the same row update; without, it issues a new access token only. Target: "
           "rotation costs at most 15% of refresh throughput.\n\n"
        << "| clients | rotation on ops/s | p50 | p99 | errors | rotation off ops/s | p50 | p99 | errors | on / off | "
           "target |\n"
        << "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n";
    for (const auto &[clients, pair] : results.rotation) {
      const auto &on = pair.authflow;
      const auto &off = pair.other;
      std::string target = "—";
      if (clients == 4 || clients == 16) {
        bool met = on.rate() >= 0.85 * off.rate();
        target = "≥ 0.85×: " + verdict(met);
        targets.push_back({"refresh with rotation at " + std::to_string(clients) + " clients ≥ 0.85× without", met,
                           ratio(on.rate(), off.rate()),
                           "a rotating refresh derives its pair with HMAC-SHA-256 and writes the replaced refresh "
                           "hash, a new refresh hash and the rotation time besides, in the same row update; " +
                               sharing()});
      }
      out << "| " << clients << " | " << count(on.rate()) << " | " << micros(on.p50_us()) << " | "
          << micros(on.p99_us()) << " | " << on.errors << " | " << count(off.rate()) << " | " << micros(off.p50_us())
          << " | " << micros(off.p99_us()) << " | " << off.errors << " | " << ratio(on.rate(), off.rate()) << " | "
          << target << " |\n";
    }
    out << "\n";
  }

  if (!results.pgbench_select.empty()) {
    out << "### The floor: `pgbench -S` and `redis-benchmark -t get`\n\n"
        << "| clients | authflow validate ops/s | p99 | `pgbench -S` tps | p50 | p99 | validate / `pgbench -S` | "
           "target | "
           "`redis-benchmark` GET rps | p50 | p99 |\n"
        << "|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|\n";
    for (const auto &[clients, floor] : results.pgbench_select) {
      const Measurement *validate = nullptr;
      auto found = results.sessions.find("validate");
      if (found != results.sessions.end() && found->second.count(clients))
        validate = &found->second.at(clients).authflow;
      double validate_rate = validate ? validate->rate() : 0;
      std::string target = "—";
      if ((clients == 4 || clients == 16) && validate) {
        bool met = validate_rate >= 0.95 * floor.rate();
        target = "≥ 0.95×: " + verdict(met);
        targets.push_back({"validate at " + std::to_string(clients) + " clients ≥ 0.95× `pgbench -S`", met,
                           ratio(validate_rate, floor.rate()),
                           met ? ""
                               : "`session_validate` parses the token, hashes its secret and probes three primary "
                                 "keys (session, user, tenant) and returns eight columns, where `pgbench -S` "
                                 "probes one key and returns one column"});
      }
      double redis_rate = 0, redis_p50 = 0, redis_p99 = 0;
      int n = 0;
      auto rounds = results.redis_get.find(clients);
      if (rounds != results.redis_get.end())
        for (const auto &round : rounds->second)
          if (round.present) {
            redis_rate += round.rate;
            redis_p50 += round.p50_us;
            redis_p99 += round.p99_us;
            ++n;
          }
      out << "| " << clients << " | " << (validate ? count(validate_rate) : "—") << " | "
          << (validate ? micros(validate->p99_us()) : "—") << " | " << count(floor.rate()) << " | "
          << micros(floor.p50_us()) << " | " << micros(floor.p99_us()) << " | " << ratio(validate_rate, floor.rate())
          << " | " << target << " | " << (n ? count(redis_rate / n) : "—") << " | " << (n ? micros(redis_p50 / n) : "—")
          << " | " << (n ? micros(redis_p99 / n) : "—") << " |\n";
    }
    out << "\n`redis-benchmark` figures are the mean over the rounds (it reports percentiles, not samples); "
           "it drives all its connections from one event loop, the driver uses one thread per client.\n\n";
  }

  if (!results.write_floors.empty()) {
    out << "### Writes at the floor\n\n"
        << "What PostgreSQL itself writes, measured in the same rounds as the session operations above: a bare "
           "insert, primary-key update and primary-key delete of a session-shaped row (a uuid, two SHA-256s) on an "
           "unlogged table with the sessions table's columns and indexes (`bench/sql/floor_*.sql`), each a pgbench "
           "script, prepared. authflow's create, refresh and revoke are the rows of the table above (the driver, "
           "libpq, prepared, one statement a call); create for new users is `bench/sql/create_new_user.sql` "
           "(pgbench, a user id never seen before each call), in volatile mode.\n\n"
        << "| operation | floor | clients | authflow ops/s | p99 | floor ops/s | p99 | authflow / floor | authflow / "
           "Valkey | target |\n"
        << "|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n";
    struct Row {
      const char *operation, *floor, *label;
      double wanted;
    };
    const Row rows[] = {{"create", "insert", "create (existing users)", 0.85},
                        {"create_new_user", "insert", "create (new users)", 0.7},
                        {"refresh", "update", "refresh", 0.85},
                        {"revoke", "delete", "revoke", 0.85}};
    for (const Row &row : rows) {
      auto floor = results.write_floors.find(row.floor);
      if (floor == results.write_floors.end())
        continue;
      for (const auto &[clients, bare] : floor->second) {
        const Measurement *a = nullptr, *valkey = nullptr;
        if (std::string(row.operation) == "create_new_user") {
          auto found = results.write_floors.find(row.operation);
          if (found != results.write_floors.end() && found->second.count(clients))
            a = &found->second.at(clients);
        } else {
          auto found = results.sessions.find(row.operation);
          if (found != results.sessions.end() && found->second.count(clients)) {
            a = &found->second.at(clients).authflow;
            valkey = &found->second.at(clients).other;
          }
        }
        if (a == nullptr)
          continue;
        std::string target = "—";
        if (clients == 4 || clients == 16) {
          bool met = a->rate() >= row.wanted * bare.rate();
          target = "≥ " + fixed(row.wanted, 2) + "×: " + verdict(met);
          targets.push_back({std::string(row.label) + " at " + std::to_string(clients) + " clients ≥ " +
                                 fixed(row.wanted, 2) + "× the " + row.floor + " floor",
                             met, ratio(a->rate(), bare.rate()),
                             met ? "" : why_below_floor(row.operation)});
        }
        out << "| " << row.label << " | " << row.floor << " | " << clients << " | " << count(a->rate()) << " | "
            << micros(a->p99_us()) << " | " << count(bare.rate()) << " | " << micros(bare.p99_us()) << " | "
            << ratio(a->rate(), bare.rate()) << " | " << (valkey ? ratio(a->rate(), valkey->rate()) : "—") << " | "
            << target << " |\n";
      }
    }
    out << "\n";
  }

  if (results.size.present || results.large.present) {
    out << "### Size\n\n"
        << "`pg_total_relation_size('authflow.sessions')` (heap, indexes, free space and visibility maps) divided by "
           "the rows, right after creating them through `session_create` on an empty table.\n\n"
        << "| sessions | total bytes | heap B/session | indexes B/session | B/session | created/s | validate 4 clients "
           "ops/s / p99 | validate 16 clients ops/s / p99 |\n"
        << "|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    for (const TableSize *size : {&results.size, &results.large})
      if (size->present)
        out << size_line(*size) << "\n";
    out << "\n";
    if (results.valkey_bytes_per_session > 0)
      out << "For comparison, the Valkey design took " << fixed(results.valkey_bytes_per_session, 0)
          << " bytes of `used_memory` per session (three keys, one of them a set member) after the preload of "
          << count(static_cast<double>(results.preload)) << " sessions.\n\n";
    if (results.size.present) {
      double per = static_cast<double>(results.size.total_bytes) / static_cast<double>(std::max(1L, results.size.rows));
      bool met = per <= 250;
      double rows = static_cast<double>(std::max(1L, results.size.rows));
      targets.push_back({"≤ 250 bytes per session at " + count(static_cast<double>(results.size.rows)) + " sessions",
                         met, fixed(per, 0) + " B",
                         "the heap takes " + fixed(static_cast<double>(results.size.heap_bytes) / rows, 0) +
                             " B per row (tuple header, four timestamps, user key, uuid, kind, two 32-byte hashes, "
                             "line pointer, 10% free space from fillfactor 90) and the primary key and the hash index "
                             "on user_key " +
                             fixed(static_cast<double>(results.size.index_bytes) / rows, 0) + " B"});
    }
  }

  if (results.purge.present) {
    const auto &purge = results.purge;
    double rate = purge.seconds > 0 ? static_cast<double>(purge.rows_deleted) / purge.seconds : 0;
    bool met = purge.during.p99_us <= 2 * purge.idle.p99_us;
    out << "### Purge\n\n"
        << "`SELECT authflow.purge_expired(...)` on " << count(static_cast<double>(purge.rows_expired))
        << " expired sessions (expired by an `UPDATE` of `expires_at`), while " << purge.clients
        << " clients validate live sessions.\n\n"
        << "| expired rows | deleted | seconds | rows/s | validate p99 idle | validate p99 during purge | during / "
           "idle | "
           "validate ops/s idle / during | target |\n"
        << "|---:|---:|---:|---:|---:|---:|---:|---:|---|\n"
        << "| " << count(static_cast<double>(purge.rows_expired)) << " | "
        << count(static_cast<double>(purge.rows_deleted)) << " | " << fixed(purge.seconds, 2) << " | " << count(rate)
        << " | " << micros(purge.idle.p99_us) << " | " << micros(purge.during.p99_us) << " | "
        << ratio(purge.during.p99_us, purge.idle.p99_us) << " | " << count(purge.idle.rate) << " / "
        << count(purge.during.rate) << " | ≤ 2×: " << verdict(met) << " |\n\n";
    targets.push_back({"validate p99 during the purge ≤ 2× idle", met, ratio(purge.during.p99_us, purge.idle.p99_us),
                       "the purge's deletes run on the same " + std::to_string(cores()) +
                           " cores as the validating clients and their backends, and take CPU from them"});
  }

  out << "### CLI login\n\n";
  if (!results.cli.installed) {
    out << "CLI: not installed, skipped (no `authflow.cli_start` in the database).\n\n";
  } else if (results.cli.cycles.empty()) {
    out << "CLI: installed, not part of this run.\n\n";
  } else {
    out << "One cycle: `cli_start()`, three `cli_poll` (waiting), `cli_complete` with a browser user's refresh token, "
           "a last `cli_poll` (success, with the CLI's new session).\n\n"
        << "| clients | cycles/s | p50 | p99 | errors |\n|---:|---:|---:|---:|---:|\n";
    for (const auto &[clients, cycles] : results.cli.cycles)
      out << "| " << clients << " | " << count(cycles.rate) << " | " << micros(cycles.p50_us) << " | "
          << micros(cycles.p99_us) << " | " << cycles.errors << " |\n";
    out << "\n";
    const auto &cli = results.cli;
    if (cli.merge_ran) {
      out << "Merge of an anonymous user owning " << count(10000) << " rows of an application table into a signed-in "
          << "user (`authflow.merge_anonymous_user`, one transaction): " << fixed(cli.merge_seconds * 1000, 0)
          << " ms, " << count(static_cast<double>(cli.merge_rows)) << " rows moved; validate p99 of 4 other clients "
          << micros(cli.merge_during.p99_us) << " µs during it, " << micros(cli.merge_idle.p99_us) << " µs idle "
          << "(" << count(cli.merge_during.rate) << " and " << count(cli.merge_idle.rate) << " validations/s).\n\n";
    } else if (!cli.merge_error.empty()) {
      out << "Merge: skipped (" << cli.merge_error << ").\n\n";
    }
  }

  render_http(out, results, targets);

  if (!targets.empty()) {
    int met = 0;
    for (const auto &target : targets)
      met += target.met;
    out << "### Targets\n\n" << met << " of " << targets.size() << " met";
    if (options.quick)
      out << " (a quick run: with one 1-second cell per figure, noise alone can move a ratio by tens of percent, "
             "so a miss here is a pointer, not a verdict; the size and purge runs use 100k sessions, not 1M)";
    out << ".\n\n";
    for (const auto &target : targets) {
      out << "- " << verdict(target.met) << ": " << target.what << " (" << target.detail << ")";
      if (!target.met && !target.why.empty())
        out << ". Why: " << target.why;
      out << ".\n";
    }
    out << "\n";
  }
  for (const auto &note : results.notes)
    out << "Note: " << note << "\n\n";
  return out.str();
}

const std::vector<std::string> &Results::operations() {
  static const std::vector<std::string> order{"create", "validate", "refresh", "revoke", "mix"};
  return order;
}

} // namespace authflow::bench
