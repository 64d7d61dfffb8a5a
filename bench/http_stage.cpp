// http_stage.cpp: wrk against authflow-gateway on loopback, when the gateway is built:
// GET /api/v1/sessions/current with valid bearer tokens, and POST /api/v1/auth/cli/poll.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pqxx/pqxx>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <thread>

#include "stages.hpp"
#include "tools.hpp"

namespace authflow::bench {

namespace {

void say(const std::string &line) { std::cout << line << std::endl; }

// http_status sends one GET over loopback and returns the status code (0 when unreachable).
int http_status(int port, const std::string &path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int status = 0;
  if (connect(fd, reinterpret_cast<sockaddr *>(&address), sizeof address) == 0) {
    std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buffer[64] = {};
      if (read(fd, buffer, sizeof buffer - 1) > 12)
        status = std::atoi(buffer + 9); // "HTTP/1.1 200"
    }
  }
  close(fd);
  return status;
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

class Gateway {
public:
  // Gateway starts the binary with its access log (stdout) and stderr going to `log`.
  Gateway(const std::string &binary, int port, int pool_size, const std::string &log) : port_(port) {
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
      }
      std::string listen = "127.0.0.1:" + std::to_string(port);
      std::string pool = std::to_string(pool_size);
      execl(binary.c_str(), binary.c_str(), "--listen", listen.c_str(), "--pool-size", pool.c_str(),
            static_cast<char *>(nullptr));
      _exit(127);
    }
  }
  pid_t pid() const { return pid_; }
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

private:
  int port_;
  pid_t pid_ = -1;
};

} // namespace

void run_http(Context &context) {
  const auto &options = context.options;
  auto &http = context.results.http;
  if (options.gateway.empty() || access(options.gateway.c_str(), X_OK) != 0) {
    say("HTTP: gateway not built, skipped");
    return;
  }
  http.built = true;
  // About twice the cores: a larger pool only adds runnable threads and backends on the same
  // cores (a pool of 16 on 2 cores showed p99 near a second at 16 connections).
  http.pool_size = 2 * static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  Gateway gateway(options.gateway, options.gateway_port, http.pool_size, options.work_dir + "/gateway.log");
  if (!gateway.ready()) {
    http.error = "the gateway did not answer /readyz with 200 within 10 s";
    say("HTTP: " + http.error);
    return;
  }
  std::string base = "http://127.0.0.1:" + std::to_string(options.gateway_port);
  http.rss_idle_kib = memory_kib(gateway.pid(), "VmRSS");

  std::string tokens = options.work_dir + "/access-tokens.txt";
  {
    std::ofstream file(tokens);
    std::size_t count = std::min<std::size_t>(context.sql->live.size(), 10000);
    for (std::size_t i = 0; i < count; ++i)
      file << context.sql->live[i].access << "\n";
  }
  for (int clients : kConnections) {
    say("HTTP: GET /api/v1/sessions/current, " + std::to_string(clients) + " connections");
    http.current[clients] = run_wrk(base + "/api/v1/sessions/current", clients, context.whole_cell_seconds(),
                                    options.bench_dir + "/wrk/sessions_current.lua", {tokens});
  }

  http.rss_peak_kib = memory_kib(gateway.pid(), "VmHWM");

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
    say("HTTP: POST /api/v1/auth/cli/poll, " + std::to_string(clients) + " connections");
    http.poll[clients] = run_wrk(base + "/api/v1/auth/cli/poll", clients, context.whole_cell_seconds(),
                                 options.bench_dir + "/wrk/cli_poll.lua", {codes});
  }
  http.rss_peak_kib = std::max(http.rss_peak_kib, memory_kib(gateway.pid(), "VmHWM"));
}

} // namespace authflow::bench
