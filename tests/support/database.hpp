// database.hpp: connections to the local test cluster for the GoogleTest suites.
#pragma once

#include <pqxx/pqxx>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace authflow::testing {

// connect opens a connection to the cluster named by the libpq environment (scripts/cluster).
std::unique_ptr<pqxx::connection> connect();

// unique_name is a name no other test run uses: "<prefix>-<pid>-<counter>-<random>".
std::string unique_name(const std::string &prefix);

// run_concurrently runs body(i) for i in [0, n) on n threads, each with its own connection, and
// releases them together once every connection is open; it returns when all are done.
void run_concurrently(int n, const std::function<void(int, pqxx::connection &)> &body);

// cluster_command runs "scripts/cluster <args>" and returns its exit status.
int cluster_command(const std::string &args);

} // namespace authflow::testing
