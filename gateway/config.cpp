// config.cpp: see config.hpp.
#include "config.hpp"

#include <sched.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace authflow::gateway {
namespace {

// Option describes one setting: its flag, its environment variable, and how to store a value.
struct Option {
  std::string flag;
  std::string environment;
  std::string value_name;
  std::string description;
  std::function<bool(Config &, const std::string &)> apply; // false when the value is invalid
};

// parse_count reads a decimal integer in [minimum, maximum].
std::optional<long long> parse_count(const std::string &text, long long minimum, long long maximum) {
  if (text.empty() || text.size() > 18)
    return std::nullopt;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c)))
      return std::nullopt;
  }
  long long value = std::stoll(text);
  if (value < minimum || value > maximum)
    return std::nullopt;
  return value;
}

// parse_listen reads "host:port" or "[ipv6]:port" into the config.
bool parse_listen(Config &config, const std::string &text) {
  std::string host;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return false;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos)
      return false;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  auto number = parse_count(port, 0, 65535);
  if (host.empty() || !number)
    return false;
  config.listen_host = host == "localhost" ? "127.0.0.1" : host;
  config.listen_port = static_cast<unsigned short>(*number);
  return true;
}

// options lists every setting once; usage_text and parse_config both read it.
const std::vector<Option> &options() {
  static const std::vector<Option> all = {
      {"--listen", "AUTHFLOW_LISTEN", "HOST:PORT", "address to listen on; port 0 picks a free port (127.0.0.1:8080)",
       parse_listen},
      {"--database", "AUTHFLOW_DATABASE_URL", "CONNINFO",
       "libpq connection string or URL (empty: the PG* environment variables)",
       [](Config &c, const std::string &v) {
         c.database = v;
         return true;
       }},
      {"--pool-size", "AUTHFLOW_POOL_SIZE", "N",
       "database connections, spread over the IO threads; each carries a pipeline of calls (cores, at least 2)",
       [](Config &c, const std::string &v) {
         auto n = parse_count(v, 1, 1000);
         if (n)
           c.pool_size = static_cast<std::size_t>(*n);
         return n.has_value();
       }},
      {"--pipeline-depth", "AUTHFLOW_PIPELINE_DEPTH", "N",
       "calls in flight on one database connection at most; more wait in the gateway (512)",
       [](Config &c, const std::string &v) {
         auto n = parse_count(v, 1, 100000);
         if (n)
           c.pipeline_depth = static_cast<std::size_t>(*n);
         return n.has_value();
       }},
      {"--max-body", "AUTHFLOW_MAX_BODY", "BYTES", "largest request body accepted; larger gets 413 (65536)",
       [](Config &c, const std::string &v) {
         auto n = parse_count(v, 0, 64LL * 1024 * 1024);
         if (n)
           c.max_body = static_cast<std::size_t>(*n);
         return n.has_value();
       }},
      {"--read-timeout", "AUTHFLOW_READ_TIMEOUT", "DURATION", "time to receive a whole request once it started (10s)",
       [](Config &c, const std::string &v) {
         auto d = parse_duration(v);
         if (d)
           c.read_timeout = *d;
         return d.has_value();
       }},
      {"--idle-timeout", "AUTHFLOW_IDLE_TIMEOUT", "DURATION", "keep-alive connection closed after this long idle (60s)",
       [](Config &c, const std::string &v) {
         auto d = parse_duration(v);
         if (d)
           c.idle_timeout = *d;
         return d.has_value();
       }},
      {"--request-timeout", "AUTHFLOW_REQUEST_TIMEOUT", "DURATION",
       "time for a call to start in the database (503 after), and the statement_timeout (504 after) (5s)",
       [](Config &c, const std::string &v) {
         auto d = parse_duration(v);
         if (d)
           c.request_timeout = *d;
         return d.has_value();
       }},
      {"--retries", "AUTHFLOW_RETRIES", "N", "retries of a call that failed with 40001 or 40P01; then 503 (3)",
       [](Config &c, const std::string &v) {
         auto n = parse_count(v, 0, 100);
         if (n)
           c.retries = static_cast<int>(*n);
         return n.has_value();
       }},
      {"--io-threads", "AUTHFLOW_IO_THREADS", "N", "threads serving HTTP and database connections (cores)",
       [](Config &c, const std::string &v) {
         auto n = parse_count(v, 1, 256);
         if (n)
           c.io_threads = static_cast<std::size_t>(*n);
         return n.has_value();
       }},
      {"--trusted-proxies", "AUTHFLOW_TRUSTED_PROXIES", "LIST",
       "addresses and CIDR networks of the proxies in front of the gateway, comma or space separated: from them "
       "only, X-Forwarded-For names the client (none)",
       [](Config &c, const std::string &v) {
         auto trusted = TrustedProxies::parse(v);
         if (trusted)
           c.trusted_proxies = *trusted;
         return trusted.has_value();
       }},
      {"--http-function", "AUTHFLOW_HTTP_FUNCTION", "SCHEMA.NAME",
       "SQL function every request is forwarded to; for tests and staged rollouts (authflow.http)",
       [](Config &c, const std::string &v) {
         if (!is_qualified_identifier(v))
           return false;
         c.http_function = v;
         return true;
       }},
  };
  return all;
}

} // namespace

// default_thread_count counts the CPUs this process may run on (a container's cpuset, taskset),
// which the standard library's hardware_concurrency does not.
std::size_t default_thread_count(std::size_t minimum) {
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  std::size_t count = 0;
  if (sched_getaffinity(0, sizeof cpus, &cpus) == 0)
    count = static_cast<std::size_t>(CPU_COUNT(&cpus));
  if (count == 0)
    count = std::thread::hardware_concurrency();
  return std::max(minimum, count);
}

// is_qualified_identifier keeps the function name safe to splice into the prepared statement.
bool is_qualified_identifier(const std::string &text) {
  if (text.empty() || text.size() > 127)
    return false;
  bool start = true;
  int dots = 0;
  for (char c : text) {
    if (c == '.') {
      if (start || ++dots > 1)
        return false;
      start = true;
      continue;
    }
    bool letter = (c >= 'a' && c <= 'z') || c == '_';
    bool digit = c >= '0' && c <= '9';
    if (!letter && !(digit && !start))
      return false;
    start = false;
  }
  return !start;
}

// parse_duration accepts an optional "ms" or "s" suffix; a bare number is seconds.
std::optional<std::chrono::milliseconds> parse_duration(const std::string &text) {
  std::string number = text;
  double scale = 1000.0;
  if (number.size() > 2 && number.compare(number.size() - 2, 2, "ms") == 0) {
    number.resize(number.size() - 2);
    scale = 1.0;
  } else if (number.size() > 1 && number.back() == 's') {
    number.pop_back();
  }
  if (number.empty())
    return std::nullopt;
  for (char c : number) {
    if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.')
      return std::nullopt;
  }
  char *end = nullptr;
  double value = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size() || value <= 0 || value * scale > 86400000.0)
    return std::nullopt;
  auto milliseconds = static_cast<long long>(value * scale);
  if (milliseconds < 1)
    return std::nullopt;
  return std::chrono::milliseconds(milliseconds);
}

// usage_text renders the option table.
std::string usage_text() {
  std::ostringstream out;
  out << "usage: authflow-gateway [OPTIONS]\n\n"
      << "Serves HTTP by calling one SQL function per request (see docs/http-gateway-notes.md).\n"
      << "Each option may also be given by its environment variable; the flag wins.\n"
      << "DURATION is seconds (\"5\", \"1.5s\") or milliseconds (\"250ms\").\n\n";
  for (const auto &option : options()) {
    out << "  " << option.flag << " " << option.value_name << "   [" << option.environment << "]\n"
        << "      " << option.description << "\n";
  }
  out << "  --help\n      this text\n";
  return out.str();
}

// parse_config applies the environment first, then the flags ("--flag value" or "--flag=value").
ParseOutcome parse_config(const std::vector<std::string> &arguments) {
  Config config;
  for (const auto &option : options()) {
    const char *value = std::getenv(option.environment.c_str());
    if (value != nullptr && !option.apply(config, value)) {
      return {std::nullopt, 2, "authflow-gateway: invalid value in " + option.environment + "\n"};
    }
  }
  for (std::size_t i = 0; i < arguments.size(); ++i) {
    std::string argument = arguments[i];
    if (argument == "--help" || argument == "-h")
      return {std::nullopt, 0, usage_text()};
    std::string value;
    bool has_value = false;
    auto equals = argument.find('=');
    if (equals != std::string::npos) {
      value = argument.substr(equals + 1);
      argument.resize(equals);
      has_value = true;
    }
    const Option *found = nullptr;
    for (const auto &option : options()) {
      if (option.flag == argument)
        found = &option;
    }
    if (found == nullptr) {
      return {std::nullopt, 2, "authflow-gateway: unknown option " + argument + " (see --help)\n"};
    }
    if (!has_value) {
      if (i + 1 >= arguments.size()) {
        return {std::nullopt, 2, "authflow-gateway: " + argument + " needs a value\n"};
      }
      value = arguments[++i];
    }
    if (!found->apply(config, value)) {
      return {std::nullopt, 2, "authflow-gateway: invalid value for " + argument + "\n"};
    }
  }
  return {config, 0, ""};
}

} // namespace authflow::gateway
