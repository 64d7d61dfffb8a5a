// http_stage.cpp: wrk against authflow-gateway on loopback, when the gateway is built:
// GET /api/v1/sessions/current with valid bearer tokens and POST /api/v1/auth/cli/poll, the
// gateway's CPU per request and its memory, a baseline build in the same rounds (before/after),
// authflow.http and session_validate called directly over as many database connections (pgbench),
// the hot route's SQL cost against session_validate, and perf's profile of the gateway.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pqxx/pqxx>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <thread>

#include "stages.hpp"
#include "tools.hpp"

namespace authflow::bench {

namespace {

void say(const std::string &line) { std::cout << line << std::endl; }

// http_get sends one GET over loopback and returns the whole answer ("" when unreachable).
std::string http_get(int port, const std::string &path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return "";
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string answer;
  if (connect(fd, reinterpret_cast<sockaddr *>(&address), sizeof address) == 0) {
    std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      ssize_t n;
      while ((n = read(fd, buffer, sizeof buffer)) > 0)
        answer.append(buffer, static_cast<std::size_t>(n));
    }
  }
  close(fd);
  return answer;
}

// http_status is the status code of a GET (0 when unreachable).
int http_status(int port, const std::string &path) {
  std::string answer = http_get(port, path);
  return answer.size() > 12 ? std::atoi(answer.c_str() + 9) : 0; // "HTTP/1.1 200"
}

// The connection counts of the HTTP rows (the issue's: a small pool's worth, more, and 1,000).
const std::vector<int> kConnections = {16, 64, 1000};

// memory_kib reads a field (VmRSS, VmHWM) of /proc/<pid>/status, in KiB; 0 when unreadable.
long memory_kib(pid_t pid, const std::string &field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) == 0)
      return std::atol(line.c_str() + field.size() + 1);
  }
  return 0;
}

std::vector<std::string> words(const std::string &text) {
  std::istringstream stream(text);
  std::vector<std::string> all;
  std::string word;
  while (stream >> word)
    all.push_back(word);
  return all;
}

class Gateway {
public:
  // Gateway starts the binary with its access log (stdout) and stderr going to `log`.
  Gateway(const std::string &binary, int port, const std::vector<std::string> &flags, const std::string &log)
      : port_(port) {
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
      }
      std::vector<std::string> arguments = {binary, "--listen", "127.0.0.1:" + std::to_string(port)};
      arguments.insert(arguments.end(), flags.begin(), flags.end());
      std::vector<char *> argv;
      for (auto &argument : arguments)
        argv.push_back(argument.data());
      argv.push_back(nullptr);
      execv(binary.c_str(), argv.data());
      _exit(127);
    }
  }
  Gateway(const Gateway &) = delete;
  Gateway &operator=(const Gateway &) = delete;
  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  ~Gateway() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool ready() const {
    for (int i = 0; i < 100; ++i) {
      if (http_status(port_, "/readyz") == 200)
        return true;
      if (waitpid(pid_, nullptr, WNOHANG) == pid_)
        return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  // metric reads one unlabelled series from /metrics (0 when absent).
  double metric(const std::string &name) const {
    std::smatch match;
    const std::string text = http_get(port_, "/metrics");
    if (std::regex_search(text, match, std::regex("\n" + name + " ([0-9.]+)")))
      return std::stod(match[1].str());
    return 0;
  }

private:
  int port_;
  pid_t pid_ = -1;
};

// Cell is one wrk run against one gateway, with the gateway's CPU time over it.
struct Cell {
  Summary summary;
  double cpu_us = 0; // gateway CPU per successful request
  long rss_kib = 0;  // VmRSS halfway through the run (all connections open)
};

Cell wrk_cell(const Gateway &gateway, const std::string &path, int clients, int seconds, const std::string &script,
              const std::vector<std::string> &arguments) {
  Cell cell;
  std::atomic<bool> done{false};
  // Halfway through, every connection is open: that is the resident size with them.
  std::thread sampler([&] {
    auto until = Clock::now() + std::chrono::milliseconds(seconds * 500);
    while (!done && Clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!done)
      cell.rss_kib = memory_kib(gateway.pid(), "VmRSS");
  });
  const double cpu_before = process_cpu_seconds(gateway.pid());
  cell.summary =
      run_wrk("http://127.0.0.1:" + std::to_string(gateway.port()) + path, clients, seconds, script, arguments);
  const double cpu_after = process_cpu_seconds(gateway.pid());
  done = true;
  sampler.join();
  const double requests = cell.summary.rate * seconds;
  if (requests > 0 && cpu_before >= 0)
    cell.cpu_us = (cpu_after - cpu_before) * 1e6 / requests;
  return cell;
}

// add folds one round's cell into the run's figures: rates and CPU averaged, latencies the mean
// of the rounds' percentiles.
void add(Summary &into, double &cpu_into, const Cell &cell, int round) {
  const auto &s = cell.summary;
  if (!s.present)
    return;
  const double n = round;
  into.rate = (into.rate * n + s.rate) / (n + 1);
  into.p50_us = (into.p50_us * n + s.p50_us) / (n + 1);
  into.p99_us = (into.p99_us * n + s.p99_us) / (n + 1);
  into.errors += s.errors;
  into.present = true;
  cpu_into = (cpu_into * n + cell.cpu_us) / (n + 1);
}

// profile records the gateway with perf while wrk runs, and keeps its share of CPU in the places
// that matter: the kernel, the HTTP socket calls, the database socket calls, JSON and the log.
void profile(Results::Http &http, const Gateway &gateway, int seconds, const std::string &script,
             const std::vector<std::string> &arguments, const std::string &work_dir) {
  if (run_command("command -v perf").status != 0) {
    http.profile_note = "perf is not installed";
    return;
  }
  const std::string data = work_dir + "/gateway.perf";
  std::thread load([&] {
    run_wrk("http://127.0.0.1:" + std::to_string(gateway.port()) + "/api/v1/sessions/current", 64, seconds + 2, script,
            arguments);
  });
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto recorded = run_command("perf record -F 499 --call-graph dwarf,8192 -o " + shell_quote(data) + " -p " + std::to_string(gateway.pid()) +
                              " -- sleep " + std::to_string(seconds));
  load.join();
  if (recorded.status != 0) {
    http.profile_note = "perf record failed (perf_event_paranoid?)";
    return;
  }
  auto by_dso = run_command("perf report -i " + shell_quote(data) + " --no-children --sort dso --stdio -g none");
  auto by_symbol = run_command("perf report -i " + shell_quote(data) + " --children --sort symbol --stdio -g none");
  std::smatch match;
  if (std::regex_search(by_dso.text, match, std::regex(R"(([0-9.]+)%\s+\[kernel\.kallsyms\])")))
    http.profile.push_back({"in the kernel (all system calls, TCP and unix sockets, scheduling)", std::stod(match[1])});
  const std::vector<std::pair<std::string, std::string>> places = {
      {"writing HTTP answers (sendmsg, with loopback TCP's receive side)", "__libc_sendmsg"},
      {"reading HTTP requests (recvmsg)", "__libc_recvmsg"},
      {"waiting for events (epoll_wait, with the switches to and from sleep)", "epoll_wait"},
      {"sending calls to PostgreSQL (PQsendQueryPrepared, PQpipelineSync)", "PQpipelineSync"},
      {"reading results from PostgreSQL (PQconsumeInput)", "PQconsumeInput"},
      {"request headers to JSON (headers_json)", "authflow::gateway::headers_json"},
      {"response headers from JSON (answer_from_sql)", "authflow::gateway::answer_from_sql"},
      {"access log lines", "authflow::gateway::AccessLog::append"},
      {"metrics", "authflow::gateway::Metrics::record_request"},
      {"malloc and free", "malloc"}};
  for (const auto &[what, symbol] : places) {
    // Children (inclusive) share: "  12.34%  0.56%  [.] symbol".
    std::regex line(R"(\n\s+([0-9.]+)%\s+[0-9.]+%\s+\[[.k]\]\s+)" +
                    std::regex_replace(symbol, std::regex(R"([:.])"), R"(\$&)") + R"(\s)");
    if (std::regex_search(by_symbol.text, match, line))
      http.profile.push_back({what, std::stod(match[1])});
  }
}

} // namespace

void run_http(Context &context) {
  const auto &options = context.options;
  auto &http = context.results.http;
  if (options.gateway.empty() || access(options.gateway.c_str(), X_OK) != 0) {
    say("HTTP: gateway not built, skipped");
    return;
  }
  http.built = true;

  // Fresh access tokens (they live 15 minutes; this stage takes several).
  const std::size_t token_count = std::min<std::size_t>(context.sql->live.size(), 10000);
  std::vector<Session> sessions(context.sql->live.begin(), context.sql->live.begin() + static_cast<long>(token_count));
  context.sql->renew(sessions);
  std::copy(sessions.begin(), sessions.end(), context.sql->live.begin()); // the old access tokens are dead now
  std::string tokens = options.work_dir + "/access-tokens.txt";
  {
    std::ofstream file(tokens);
    for (const auto &session : sessions)
      file << session.access << "\n";
  }

  // The new gateway with its defaults; the baseline, when given, with its flags.
  std::vector<std::unique_ptr<Gateway>> gateways;
  gateways.push_back(std::make_unique<Gateway>(options.gateway, options.gateway_port, std::vector<std::string>{},
                                               options.work_dir + "/gateway.log"));
  http.gateways.emplace_back();
  http.gateways.back().label = "after";
  if (!options.baseline_gateway.empty()) {
    gateways.push_back(std::make_unique<Gateway>(options.baseline_gateway, options.gateway_port + 1,
                                                 words(options.baseline_flags),
                                                 options.work_dir + "/gateway-before.log"));
    http.gateways.emplace_back();
    http.gateways.back().label = "before";
  }
  for (std::size_t g = 0; g < gateways.size(); ++g) {
    if (!gateways[g]->ready()) {
      http.error = "the " + http.gateways[g].label + " gateway did not answer /readyz with 200 within 10 s";
      say("HTTP: " + http.error);
      return;
    }
    http.gateways[g].pool_size = static_cast<int>(gateways[g]->metric("authflow_gateway_pool_connections"));
    http.gateways[g].rss_idle_kib = memory_kib(gateways[g]->pid(), "VmRSS");
  }

  // Direct calls: the same token, the headers the gateway builds for wrk's requests.
  http.direct_clients = std::max(1, http.gateways[0].pool_size);
  const std::string token = sessions.empty() ? "" : sessions.front().access;
  const std::string headers = R"({"authorization": "Bearer )" + token + R"(", "host": "127.0.0.1:)" +
                              std::to_string(options.gateway_port) + R"(", "x-authflow-client-address": "127.0.0.1"})";
  const std::vector<std::pair<std::string, std::string>> variables = {{"token", token}, {"headers", headers}};
  const std::string validate_script = options.bench_dir + "/sql/session_validate.sql";
  const std::string http_script = options.bench_dir + "/sql/http_session_current.sql";

  const int seconds = context.whole_cell_seconds();
  const std::string current_script = options.bench_dir + "/wrk/sessions_current.lua";
  for (int clients : kConnections) {
    for (int round = 0; round < options.rounds; ++round) {
      for (std::size_t k = 0; k < gateways.size(); ++k) {
        const std::size_t g = (k + static_cast<std::size_t>(round)) % gateways.size(); // who goes first alternates
        say("HTTP: " + http.gateways[g].label + " gateway, GET /api/v1/sessions/current, " + std::to_string(clients) +
            " connections, round " + std::to_string(round + 1));
        Cell cell = wrk_cell(*gateways[g], "/api/v1/sessions/current", clients, seconds, current_script, {tokens});
        auto &run = http.gateways[g];
        add(run.current[clients], run.cpu_us[clients], cell, round);
        if (clients == 1000)
          run.rss_1000_kib = std::max(run.rss_1000_kib, cell.rss_kib);
      }
      if (clients == 64) {
        say("HTTP: authflow.http and session_validate directly, " + std::to_string(http.direct_clients) +
            " connections, round " + std::to_string(round + 1));
        for (const auto &[script, into] :
             {std::pair{http_script, &http.direct_http}, std::pair{validate_script, &http.direct_validate}}) {
          auto share = run_pgbench_scripts("", http.direct_clients, seconds, {script}, variables);
          if (!share.empty() && share[0].present) {
            into->tps = (into->tps * round + share[0].tps) / (round + 1);
            into->latency_ms = (into->latency_ms * round + share[0].latency_ms) / (round + 1);
            into->present = true;
          }
        }
      }
    }
  }

  // The hot route's SQL cost: both scripts in one run, on one connection and on as many as cores.
  for (int clients : {1, static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))}) {
    say("HTTP: authflow.http against session_validate in one pgbench run, " + std::to_string(clients) + " clients");
    auto shares = run_pgbench_scripts("", clients, seconds * options.rounds, {validate_script, http_script}, variables);
    if (shares.size() == 2 && shares[0].present && shares[1].present)
      http.sql_cost[clients] = {shares[0], shares[1]};
  }

  for (std::size_t g = 0; g < gateways.size(); ++g)
    http.gateways[g].rss_peak_kib = memory_kib(gateways[g]->pid(), "VmHWM");

  say("HTTP: perf profile of the gateway at 64 connections");
  profile(http, *gateways[0], seconds, current_script, {tokens}, options.work_dir);

  if (!context.results.cli.installed) {
    http.poll_skipped = true;
    say("HTTP: cli/poll skipped (the CLI flow is not installed)");
    return;
  }
  std::string codes = options.work_dir + "/polling-codes.txt";
  {
    pqxx::connection connection("");
    pqxx::nontransaction tx(connection);
    auto result = tx.exec("SELECT (authflow.cli_start()).polling_code FROM generate_series(1, 1000)");
    std::ofstream file(codes);
    for (const auto &row : result)
      file << row[0].as<std::string>() << "\n";
  }
  for (int clients : kConnections) {
    for (std::size_t g = 0; g < gateways.size(); ++g) {
      say("HTTP: " + http.gateways[g].label + " gateway, POST /api/v1/auth/cli/poll, " + std::to_string(clients) +
          " connections");
      double unused = 0;
      add(http.gateways[g].poll[clients], unused,
          wrk_cell(*gateways[g], "/api/v1/auth/cli/poll", clients, seconds, options.bench_dir + "/wrk/cli_poll.lua",
                   {codes}),
          0);
    }
  }
  for (std::size_t g = 0; g < gateways.size(); ++g)
    http.gateways[g].rss_peak_kib = std::max(http.gateways[g].rss_peak_kib, memory_kib(gateways[g]->pid(), "VmHWM"));
}

} // namespace authflow::bench
