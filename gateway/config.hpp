// config.hpp: the gateway's settings, read from command-line flags and environment variables.
#pragma once

#include "client_address.hpp"

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace authflow::gateway {

// default_thread_count is the machine's core count, at least `minimum`.
std::size_t default_thread_count(std::size_t minimum);

struct Config {
  std::string listen_host = "127.0.0.1";
  unsigned short listen_port = 8080;
  std::string database; // libpq conninfo; empty = the libpq environment
  std::string http_function = "authflow.http";
  std::size_t pool_size = default_thread_count(2);  // database connections, spread over the IO threads
  std::size_t pipeline_depth = 512;                 // calls in flight on one database connection at most
  std::size_t max_body = 65536;                     // bytes
  std::size_t io_threads = default_thread_count(1); // threads serving HTTP and database connections
  int retries = 3;                                  // extra attempts after 40001 / 40P01
  std::chrono::milliseconds read_timeout{10000};    // whole request (headers and body)
  std::chrono::milliseconds idle_timeout{60000};    // keep-alive connection with no request
  std::chrono::milliseconds request_timeout{5000};  // time for a call to start, and statement_timeout
  TrustedProxies trusted_proxies;                   // peers whose X-Forwarded-For is believed (none)
};

// ParseOutcome is what parse_config returns: a config to run with, or an exit right away.
struct ParseOutcome {
  std::optional<Config> config;
  int exit_code = 0;   // used when config is empty
  std::string message; // printed before exiting: usage on stdout (code 0), an error on stderr
};

// parse_config reads flags (which win) and AUTHFLOW_* environment variables into a Config.
ParseOutcome parse_config(const std::vector<std::string> &arguments);

// usage_text is the --help output: every flag, its environment variable and its default.
std::string usage_text();

// is_qualified_identifier accepts "name" or "schema.name" made of [a-z_][a-z0-9_]*.
bool is_qualified_identifier(const std::string &text);

// parse_duration reads "250ms", "5s", "1.5" (seconds) into milliseconds; nullopt when invalid.
std::optional<std::chrono::milliseconds> parse_duration(const std::string &text);

} // namespace authflow::gateway
