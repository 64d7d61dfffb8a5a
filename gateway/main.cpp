// main.cpp: authflow-gateway, an HTTP front for the SQL function authflow.http.
#include "access_log.hpp"
#include "config.hpp"
#include "database.hpp"
#include "forwarder.hpp"
#include "io_threads.hpp"
#include "metrics.hpp"
#include "server.hpp"

#include <boost/asio.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <vector>

namespace {

// raise_open_file_limit lifts the soft descriptor limit to the hard one: one per connection.
void raise_open_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// describe prints an endpoint as HOST:PORT, with brackets around an IPv6 host.
std::string describe(const boost::asio::ip::tcp::endpoint &endpoint) {
  std::string host = endpoint.address().to_string();
  if (endpoint.address().is_v6())
    host = "[" + host + "]";
  return host + ":" + std::to_string(endpoint.port());
}

} // namespace

// main parses the configuration, listens, serves until SIGTERM or SIGINT, then drains and exits 0.
int main(int argc, char **argv) {
  using namespace authflow::gateway;
  auto parsed = parse_config(std::vector<std::string>(argv + 1, argv + argc));
  if (!parsed.config) {
    (parsed.exit_code == 0 ? std::cout : std::cerr) << parsed.message;
    return parsed.exit_code;
  }
  const Config config = *parsed.config;

  // A database connection that breaks mid-write must not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  raise_open_file_limit();

  IoThreads threads(config.io_threads);
  Metrics metrics;
  AccessLog access_log;
  Forwarder forwarder(config, metrics);
  Database database(threads, config, forwarder, metrics);
  Server server({threads, config, database, metrics, access_log});

  boost::asio::ip::tcp::endpoint endpoint;
  try {
    endpoint = server.listen();
  } catch (const std::exception &e) {
    std::cerr << "authflow-gateway: cannot listen on " << config.listen_host << ":" << config.listen_port << ": "
              << e.what() << "\n";
    return 1;
  }

  // After the drain the database connections close and the IO threads run out of work.
  boost::asio::signal_set signals(threads.context(0), SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code &error, int) {
    if (!error) {
      server.drain([&] {
        database.stop();
        threads.release();
      });
    }
  });
  server.start_accepting();
  database.start();
  std::printf("listening on %s\n", describe(endpoint).c_str());
  std::fflush(stdout);

  threads.run();
  std::fprintf(stderr, "authflow-gateway: stopped\n");
  return 0;
}
