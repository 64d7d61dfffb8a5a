// tools.cpp: see tools.hpp.
#include "tools.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <thread>

namespace authflow::bench {

namespace fs = std::filesystem;

CommandOutput run_command(const std::string &command_line) {
  CommandOutput output;
  FILE *pipe = popen((command_line + " 2>&1").c_str(), "r");
  if (pipe == nullptr)
    return output;
  char buffer[4096];
  std::size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0)
    output.text.append(buffer, n);
  int status = pclose(pipe);
  output.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return output;
}

std::string shell_quote(const std::string &argument) {
  std::string quoted = "'";
  for (char c : argument)
    quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

namespace {

double match_number(const std::string &text, const std::string &pattern) {
  std::smatch match;
  if (std::regex_search(text, match, std::regex(pattern)))
    return std::stod(match[1].str());
  return -1;
}

void report_failure(const std::string &tool, const CommandOutput &output) {
  std::cerr << tool << " failed (exit " << output.status << "):\n" << output.text.substr(0, 2000) << "\n";
}

// A time limit for a tool meant to run `seconds`: generous, but bounded.
std::string time_limit(int seconds) { return "timeout -k 10 " + std::to_string(seconds * 3 + 120) + " "; }

} // namespace

Measurement run_pgbench(const std::string &database, int clients, int seconds, const std::string &arguments,
                        const std::string &log_dir) {
  fs::remove_all(log_dir);
  fs::create_directories(log_dir);
  std::string command = time_limit(seconds) + "pgbench -n -M prepared -c " + std::to_string(clients) + " -j " +
                        std::to_string(clients) + " -T " + std::to_string(seconds) +
                        " -l --log-prefix=" + shell_quote(log_dir + "/tx") + " " + arguments;
  if (!database.empty())
    command += " " + shell_quote(database); // else PGDATABASE
  auto output = run_command(command);
  Measurement latencies;
  double tps = match_number(output.text, R"(tps = ([0-9.]+) \(without initial connection time\))");
  if (output.status != 0 || tps < 0) {
    report_failure("pgbench", output);
    return latencies;
  }
  for (const auto &entry : fs::directory_iterator(log_dir)) {
    std::ifstream log(entry.path());
    std::string line;
    while (std::getline(log, line)) {
      std::istringstream fields(line);
      long long client = 0, transaction = 0, microseconds = 0;
      if (fields >> client >> transaction >> microseconds)
        latencies.latencies_ns.push_back(static_cast<std::uint64_t>(microseconds) * 1000);
    }
  }
  fs::remove_all(log_dir);
  // The rate is pgbench's own (it leaves out connection set-up); the log gives the latencies.
  latencies.seconds = seconds;
  latencies.ops = static_cast<std::uint64_t>(tps * seconds + 0.5);
  double failed = match_number(output.text, R"(number of failed transactions: ([0-9]+))");
  latencies.errors = failed > 0 ? static_cast<std::uint64_t>(failed) : 0;
  return latencies;
}

std::vector<ScriptShare> run_pgbench_scripts(const std::string &database, int clients, int seconds,
                                             const std::vector<std::string> &scripts,
                                             const std::vector<std::pair<std::string, std::string>> &variables) {
  std::string command = time_limit(seconds) + "pgbench -n -M prepared -c " + std::to_string(clients) + " -j " +
                        std::to_string(clients) + " -T " + std::to_string(seconds);
  for (const auto &[name, value] : variables)
    command += " -D " + shell_quote(name + "=" + value);
  for (const auto &script : scripts)
    command += " -f " + shell_quote(script + "@1");
  if (!database.empty())
    command += " " + shell_quote(database);
  auto output = run_command(command);
  std::vector<ScriptShare> shares(scripts.size());
  if (output.status != 0) {
    report_failure("pgbench", output);
    return shares;
  }
  // Per script: "SQL script N: <file>", then " - ... (x% of total, tps = X)" and
  // " - latency average = Y ms".
  std::istringstream lines(output.text);
  std::string line;
  std::size_t current = shares.size();
  std::smatch match;
  static const std::regex script(R"(^SQL script ([0-9]+):)"), tps(R"(tps = ([0-9.]+)\))"),
      latency(R"(^ - latency average = ([0-9.]+) ms)");
  // With one script pgbench prints only the run's own figures.
  if (scripts.size() == 1) {
    double tps = match_number(output.text, R"(tps = ([0-9.]+) \(without initial connection time\))");
    double latency = match_number(output.text, R"(latency average = ([0-9.]+) ms)");
    if (tps >= 0 && latency >= 0)
      shares[0] = {tps, latency, true};
    return shares;
  }
  while (std::getline(lines, line)) {
    if (std::regex_search(line, match, script)) {
      current = std::stoul(match[1].str()) - 1;
    } else if (current < shares.size() && std::regex_search(line, match, tps)) {
      shares[current].tps = std::stod(match[1].str());
    } else if (current < shares.size() && std::regex_search(line, match, latency)) {
      shares[current].latency_ms = std::stod(match[1].str());
      shares[current].present = true;
    }
  }
  return shares;
}

double process_cpu_seconds(int pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  // The command name (field 2) is in parentheses and may hold spaces: count from its end.
  auto close = text.rfind(')');
  if (close == std::string::npos)
    return -1;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14 || i == 15)
      ticks += std::stod(field);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

Summary run_redis_get(const std::string &socket, int clients, long requests) {
  std::string command = time_limit(60) + "redis-benchmark -s " + shell_quote(socket) + " -c " +
                        std::to_string(clients) + " -n " + std::to_string(requests) + " -t get -r 100000 --csv";
  auto output = run_command(command);
  Summary summary;
  // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms",...
  std::smatch match;
  std::regex row(R"re("GET","([0-9.]+)","[0-9.]+","[0-9.]+","([0-9.]+)","[0-9.]+","([0-9.]+)")re");
  if (output.status != 0 || !std::regex_search(output.text, match, row)) {
    report_failure("redis-benchmark", output);
    return summary;
  }
  summary.present = true;
  summary.rate = std::stod(match[1].str());
  summary.p50_us = std::stod(match[2].str()) * 1000;
  summary.p99_us = std::stod(match[3].str()) * 1000;
  return summary;
}

namespace {
// wrk prints latencies as "1.23ms", "456.00us", "1.01s".
double wrk_microseconds(const std::string &number, const std::string &unit) {
  double value = std::stod(number);
  if (unit == "us")
    return value;
  if (unit == "ms")
    return value * 1000;
  if (unit == "s")
    return value * 1e6;
  return value * 60e6; // m
}
} // namespace

Summary run_wrk(const std::string &url, int clients, int seconds, const std::string &script,
                const std::vector<std::string> &script_arguments) {
  int threads = std::max(1, std::min<int>(clients, static_cast<int>(std::thread::hardware_concurrency())));
  std::string command = time_limit(seconds) + "wrk -t " + std::to_string(threads) + " -c " + std::to_string(clients) +
                        " -d " + std::to_string(seconds) + "s --latency -s " + shell_quote(script) + " " +
                        shell_quote(url) + " --";
  for (const auto &argument : script_arguments)
    command += " " + shell_quote(argument);
  auto output = run_command(command);
  Summary summary;
  double rate = match_number(output.text, R"(Requests/sec:\s+([0-9.]+))");
  if (output.status != 0 || rate < 0) {
    report_failure("wrk", output);
    return summary;
  }
  summary.present = true;
  summary.rate = rate;
  std::smatch match;
  if (std::regex_search(output.text, match, std::regex(R"(\n\s+50%\s+([0-9.]+)(us|ms|s|m)\b)")))
    summary.p50_us = wrk_microseconds(match[1].str(), match[2].str());
  if (std::regex_search(output.text, match, std::regex(R"(\n\s+99%\s+([0-9.]+)(us|ms|s|m)\b)")))
    summary.p99_us = wrk_microseconds(match[1].str(), match[2].str());
  double non_2xx = match_number(output.text, R"(Non-2xx or 3xx responses: ([0-9]+))");
  if (non_2xx > 0)
    summary.errors += static_cast<std::uint64_t>(non_2xx);
  if (std::regex_search(
          output.text, match,
          std::regex(R"(Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+))")))
    for (int i = 1; i <= 4; ++i)
      summary.errors += std::stoull(match[i].str());
  // wrk's rate counts failed requests too; report the successful ones.
  double total = match_number(output.text, R"(([0-9]+) requests in)");
  if (total > 0 && summary.errors > 0)
    summary.rate = rate * std::max(0.0, total - static_cast<double>(summary.errors)) / total;
  return summary;
}

} // namespace authflow::bench
