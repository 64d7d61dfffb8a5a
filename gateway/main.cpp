// main.cpp: authflow-gateway, an HTTP front for the SQL function authflow.http.
#include "access_log.hpp"
#include "config.hpp"
#include "forwarder.hpp"
#include "metrics.hpp"
#include "pool.hpp"
#include "server.hpp"

#include <boost/asio.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <thread>
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

  // A database host that drops packets must not hold a worker in connect() for minutes:
  // unless the conninfo or the environment says otherwise, give up after the request timeout.
  if (std::getenv("PGCONNECT_TIMEOUT") == nullptr) {
    auto seconds = std::max<long long>(2, (config.request_timeout.count() + 999) / 1000);
    setenv("PGCONNECT_TIMEOUT", std::to_string(seconds).c_str(), 0);
  }

  // A database connection that breaks mid-write must not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  raise_open_file_limit();

  boost::asio::io_context io(static_cast<int>(config.io_threads));
  Metrics metrics;
  AccessLog access_log;
  Forwarder forwarder(config, metrics);
  ConnectionPool pool(
      config.database, [&forwarder](pqxx::connection &connection) { forwarder.setup(connection); }, config.pool_size,
      config.request_timeout, metrics);
  Server server({io, config, pool, forwarder, metrics, access_log});

  boost::asio::ip::tcp::endpoint endpoint;
  try {
    endpoint = server.listen();
  } catch (const std::exception &e) {
    std::cerr << "authflow-gateway: cannot listen on " << config.listen_host << ":" << config.listen_port << ": "
              << e.what() << "\n";
    return 1;
  }

  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&server](const boost::system::error_code &error, int) {
    if (!error)
      server.drain();
  });
  server.start_accepting();
  std::printf("listening on %s\n", describe(endpoint).c_str());
  std::fflush(stdout);

  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < config.io_threads; ++i)
    threads.emplace_back([&io] { io.run(); });
  io.run();
  for (auto &thread : threads)
    thread.join();

  pool.stop();
  std::fprintf(stderr, "authflow-gateway: stopped\n");
  return 0;
}
