// http_report.cpp: the HTTP section of the report and its targets (see report_format.hpp).
#include "report_format.hpp"

#include <functional>

namespace authflow::bench {

namespace {

using GatewayRun = Results::GatewayRun;

const Summary *summary_at(const std::map<int, Summary> &table, int connections) {
  auto found = table.find(connections);
  return found == table.end() || !found->second.present ? nullptr : &found->second;
}

double cpu_at(const GatewayRun &run, int connections) {
  auto found = run.cpu_us.find(connections);
  return found == run.cpu_us.end() ? 0 : found->second;
}

std::string mib(long kib) { return fixed(static_cast<double>(kib) / 1024, 1); }

// profile_why names the profile's largest places, for the targets the gateway's CPU decides.
std::string profile_why(const Results::Http &http) {
  if (http.profile.empty())
    return "no profile (" + (http.profile_note.empty() ? std::string("none taken") : http.profile_note) + ")";
  std::string why = "in the profile below, ";
  int listed = 0;
  for (const auto &[what, share] : http.profile) {
    if (listed == 4)
      break;
    why += std::string(listed == 0 ? "" : ", ") + fixed(share, 0) + "% of the gateway's CPU is " + what;
    ++listed;
  }
  return why + "; " + sharing();
}

// TargetsTable is the gateway's targets with the baseline's figures beside the new ones.
void TargetsTable(std::ostringstream &out, const Results::Http &http) {
  const GatewayRun &after = http.gateways.front();
  const GatewayRun *before = http.gateways.size() > 1 ? &http.gateways[1] : nullptr;
  struct Row {
    std::string what;
    std::function<std::string(const GatewayRun &)> figure;
    std::function<bool(const GatewayRun &)> met;
  };
  auto rate = [](const GatewayRun &run, int connections) {
    const Summary *s = summary_at(run.current, connections);
    return s == nullptr ? 0.0 : s->rate;
  };
  const std::vector<Row> rows = {
      {"gateway CPU per request at 64 connections ≤ 10 µs",
       [](const GatewayRun &run) { return fixed(cpu_at(run, 64), 1) + " µs"; },
       [](const GatewayRun &run) { return cpu_at(run, 64) > 0 && cpu_at(run, 64) <= 10; }},
      {"p99 at 64 connections ≤ 2 ms",
       [](const GatewayRun &run) {
         const Summary *s = summary_at(run.current, 64);
         return s == nullptr ? std::string("—") : micros(s->p99_us) + " µs";
       },
       [](const GatewayRun &run) {
         const Summary *s = summary_at(run.current, 64);
         return s != nullptr && s->p99_us <= 2000;
       }},
      {"1,000 connections ≥ 0.9× the 64-connection rate",
       [&](const GatewayRun &run) { return ratio(rate(run, 1000), rate(run, 64)); },
       [&](const GatewayRun &run) { return rate(run, 64) > 0 && rate(run, 1000) >= 0.9 * rate(run, 64); }},
      {"resident memory with 1,000 connections ≤ 32 MiB",
       [](const GatewayRun &run) { return mib(run.rss_1000_kib) + " MiB"; },
       [](const GatewayRun &run) { return run.rss_1000_kib > 0 && run.rss_1000_kib <= 32 * 1024; }},
  };
  std::vector<Row> direct;
  for (int connections : {16, 64}) {
    direct.push_back({"HTTP at " + std::to_string(connections) + " connections ≥ 0.9× `authflow.http` direct",
                      [&, connections](const GatewayRun &run) { return ratio(rate(run, connections), http.direct_http.tps); },
                      [&, connections](const GatewayRun &run) {
                        return http.direct_http.present && rate(run, connections) >= 0.9 * http.direct_http.tps;
                      }});
    direct.push_back(
        {"HTTP at " + std::to_string(connections) + " connections ≥ 0.6× `session_validate` direct",
         [&, connections](const GatewayRun &run) { return ratio(rate(run, connections), http.direct_validate.tps); },
         [&, connections](const GatewayRun &run) {
           return http.direct_validate.present && rate(run, connections) >= 0.6 * http.direct_validate.tps;
         }});
  }
  out << "The gateway's targets" << (before ? ", before (the baseline build) and after" : "")
      << " (the direct calls over " << http.direct_clients << " connections, the new gateway's pool):\n\n| target |"
      << (before ? " before |" : "") << " after | |\n|---|" << (before ? "---:|" : "") << "---:|---|\n";
  auto print = [&](const Row &row) {
    out << "| " << row.what << " |" << (before ? " " + row.figure(*before) + " |" : "") << " " << row.figure(after)
        << " | " << verdict(row.met(after)) << " |\n";
  };
  for (const auto &row : rows)
    print(row);
  if (http.direct_http.present && http.direct_validate.present)
    for (const auto &row : direct)
      print(row);
  if (!http.sql_cost.empty()) {
    const auto &[clients, pair] = *http.sql_cost.rbegin();
    const double cost = pair.first.latency_ms > 0 ? pair.second.latency_ms / pair.first.latency_ms : 0;
    out << "| `authflow.http` hot route ≤ 1.25× `session_validate` (SQL, " << clients << " clients) |"
        << (before ? " — |" : "") << " " << ratio(pair.second.latency_ms, pair.first.latency_ms) << " | "
        << verdict(cost > 0 && cost <= 1.25) << " |\n";
  }
  out << "\n";
}

} // namespace

void render_http(std::ostringstream &out, const Results &results, std::vector<Target> &targets) {
  out << "### HTTP\n\n";
  const auto &http = results.http;
  if (!http.built) {
    out << "HTTP: gateway not built, skipped.\n\n";
    return;
  }
  if (!http.error.empty()) {
    out << "HTTP: " << http.error << "; no numbers.\n\n";
    return;
  }
  const GatewayRun &after = http.gateways.front();
  const GatewayRun *before = http.gateways.size() > 1 ? &http.gateways[1] : nullptr;

  out << "wrk (2 threads) over loopback against `authflow-gateway` with its defaults (" << after.pool_size
      << " database connections, as many IO threads as cores, access log to a file), valid bearer tokens and polling "
         "codes taken in turn"
      << (before ? "; **before** is the baseline build (`--baseline-gateway`) with its flags, measured in the same "
                   "rounds, the one that goes first alternating"
                 : "")
      << ". CPU is the gateway process's utime + stime over the wrk run divided by the requests answered.\n\n";

  out << "| connections | requests/s | p50 | p99 | errors | CPU µs/request |"
      << (before ? " before: requests/s | p50 | p99 | CPU µs/request | after / before |" : "")
      << "\n|---:|---:|---:|---:|---:|---:|" << (before ? "---:|---:|---:|---:|---:|" : "") << "\n";
  for (const auto &[connections, s] : after.current) {
    out << "| " << connections << " | " << count(s.rate) << " | " << micros(s.p50_us) << " | " << micros(s.p99_us)
        << " | " << s.errors << " | " << fixed(cpu_at(after, connections), 1) << " |";
    if (before) {
      const Summary *b = summary_at(before->current, connections);
      if (b != nullptr)
        out << " " << count(b->rate) << " | " << micros(b->p50_us) << " | " << micros(b->p99_us) << " | "
            << fixed(cpu_at(*before, connections), 1) << " | " << ratio(s.rate, b->rate) << " |";
      else
        out << " — | — | — | — | — |";
    }
    out << "\n";
  }
  out << "\n";

  // Direct calls over as many database connections as the gateway's pool.
  if (http.direct_http.present && http.direct_validate.present) {
    out << "Direct SQL over " << http.direct_clients << " connections (the gateway's pool), pgbench with the same "
        << "token, in the same rounds as wrk: `authflow.http` on the hot route (`bench/sql/http_session_current.sql`) "
        << count(http.direct_http.tps) << "/s, `session_validate` (`bench/sql/session_validate.sql`) "
        << count(http.direct_validate.tps) << "/s.\n\n"
        << "| connections | HTTP requests/s | / `authflow.http` direct | / `session_validate` direct |\n"
        << "|---:|---:|---:|---:|\n";
    for (int connections : {16, 64}) {
      const Summary *s = summary_at(after.current, connections);
      if (s == nullptr)
        continue;
      out << "| " << connections << " | " << count(s->rate) << " | " << ratio(s->rate, http.direct_http.tps) << " | "
          << ratio(s->rate, http.direct_validate.tps) << " |\n";
      // against: HTTP at this many connections reaches `wanted` of a direct call's rate.
      auto against = [&](double wanted, const std::string &call, double direct, const std::string &why) {
        const bool met = s->rate >= wanted * direct;
        targets.push_back({"HTTP validate at " + std::to_string(connections) + " connections ≥ " + fixed(wanted, 1) +
                               "× " + call + " called directly over " + std::to_string(http.direct_clients) +
                               " connections",
                           met, ratio(s->rate, direct), met ? "" : why + profile_why(http)});
      };
      against(0.9, "`authflow.http`", http.direct_http.tps,
              "wrk, the gateway and PostgreSQL share the cores, so every microsecond of the gateway's CPU is taken "
              "from the backends; ");
      against(0.6, "`session_validate`", http.direct_validate.tps,
              "on top of the gateway's own CPU, `authflow.http` costs a little more than a bare `session_validate` "
              "(the SQL cost below); ");
    }
    out << "\n";
  }

  if (!http.sql_cost.empty()) {
    out << "The hot route's SQL cost: `session_validate` and `authflow.http` for `GET /api/v1/sessions/current` with "
           "the same token, the two scripts in **one** pgbench run (each transaction picks one at random, so both "
           "see the same moments of the machine).\n\n"
        << "| clients | `session_validate` tps | latency ms | `authflow.http` tps | latency ms | latency http / "
           "validate |\n|---:|---:|---:|---:|---:|---:|\n";
    for (const auto &[clients, pair] : http.sql_cost) {
      const auto &[validate, call] = pair;
      out << "| " << clients << " | " << count(validate.tps) << " | " << fixed(validate.latency_ms, 3) << " | "
          << count(call.tps) << " | " << fixed(call.latency_ms, 3) << " | "
          << ratio(call.latency_ms, validate.latency_ms) << " |\n";
    }
    out << "\n";
    const auto &[clients, pair] = *http.sql_cost.rbegin(); // the most clients: every core busy
    const double cost = pair.first.latency_ms > 0 ? pair.second.latency_ms / pair.first.latency_ms : 0;
    const bool met = cost > 0 && cost <= 1.25;
    targets.push_back({"`authflow.http` on `GET /api/v1/sessions/current` ≤ 1.25× `session_validate` (" +
                           std::to_string(clients) + " clients, one pgbench run)",
                       met, ratio(pair.second.latency_ms, pair.first.latency_ms),
                       met ? ""
                           : "the route still runs one PL/pgSQL function (SECURITY DEFINER with a pinned "
                             "search_path: a GUC switch per call, and a tuplestore for its one row) around the "
                             "C++ lookup, and PostgreSQL parses the headers parameter into jsonb"});
  }

  if (!after.poll.empty()) {
    out << "| `POST /api/v1/auth/cli/poll` connections | requests/s | p50 | p99 | errors |"
        << (before ? " before: requests/s | p99 |" : "") << "\n|---:|---:|---:|---:|---:|"
        << (before ? "---:|---:|" : "") << "\n";
    for (const auto &[connections, s] : after.poll) {
      out << "| " << connections << " | " << count(s.rate) << " | " << micros(s.p50_us) << " | " << micros(s.p99_us)
          << " | " << s.errors << " |";
      if (before) {
        const Summary *b = summary_at(before->poll, connections);
        out << (b ? " " + count(b->rate) + " | " + micros(b->p99_us) + " |" : " — | — |");
      }
      out << "\n";
    }
    out << "\n";
  }
  if (http.poll_skipped)
    out << "`cli/poll` skipped: the CLI flow is not installed.\n\n";

  out << "Gateway memory: " << mib(after.rss_idle_kib) << " MiB resident at start, " << mib(after.rss_1000_kib)
      << " MiB with 1,000 connections open, " << mib(after.rss_peak_kib) << " MiB at most (VmHWM)";
  if (before)
    out << "; before: " << mib(before->rss_idle_kib) << ", " << mib(before->rss_1000_kib) << " and "
        << mib(before->rss_peak_kib) << " MiB";
  out << ".\n\n";

  if (!http.profile.empty()) {
    out << "Where the gateway's CPU goes at 64 connections (`perf record -g` on the gateway during a wrk run; the "
           "rows after the first are inclusive and overlap it):\n\n| what | share of the gateway's CPU |\n|---|---:|\n";
    for (const auto &[what, share] : http.profile)
      out << "| " << what << " | " << fixed(share, 1) << "% |\n";
    out << "\n";
  } else if (!http.profile_note.empty()) {
    out << "No profile: " << http.profile_note << ".\n\n";
  }

  TargetsTable(out, http);

  // The gateway's own targets.
  const double cpu64 = cpu_at(after, 64);
  if (cpu64 > 0) {
    const bool met = cpu64 <= 10;
    targets.push_back({"gateway CPU ≤ 10 µs per request at 64 connections", met, fixed(cpu64, 1) + " µs",
                       met ? "" : profile_why(http)});
  }
  const Summary *at64 = summary_at(after.current, 64);
  if (at64 != nullptr) {
    const bool met = at64->p99_us <= 2000;
    targets.push_back({"HTTP validate p99 ≤ 2 ms at 64 connections", met, micros(at64->p99_us) + " µs",
                       met ? ""
                           : "64 requests in flight at the throughput above wait about 64 / rate for their turn on "
                             "the cores (Little's law: " +
                                 micros(64 / std::max(at64->rate, 1.0) * 1e6) +
                                 " µs on average), and the cores are shared with wrk and PostgreSQL"});
  }
  const Summary *at1000 = summary_at(after.current, 1000);
  if (at64 != nullptr && at1000 != nullptr) {
    const bool met = at1000->rate >= 0.9 * at64->rate;
    targets.push_back({"1,000 keep-alive connections ≥ 0.9× the 64-connection rate", met,
                       ratio(at1000->rate, at64->rate),
                       met ? "" : "more connections mean more sockets for wrk and the gateway to walk per request"});
  }
  if (after.rss_1000_kib > 0) {
    const bool met = after.rss_1000_kib <= 32 * 1024;
    targets.push_back({"gateway ≤ 32 MiB resident with 1,000 connections", met, mib(after.rss_1000_kib) + " MiB",
                       met ? "" : "each connection keeps its read buffer and parser"});
  }
}

} // namespace authflow::bench
