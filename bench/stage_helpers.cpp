// stage_helpers.cpp: see stages.hpp.
#include <pqxx/pqxx>

#include <algorithm>
#include <cmath>
#include <future>
#include <thread>

#include "stages.hpp"

namespace authflow::bench {

int Context::whole_cell_seconds() const { return std::max(1, static_cast<int>(std::lround(cell_seconds()))); }

std::vector<std::unique_ptr<Client>> clients_for(Side &side, int n) {
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < n; ++i)
    clients.push_back(side.connect(static_cast<std::uint64_t>(1000003 * (i + 1) + n)));
  side.distribute(clients);
  return clients;
}

std::vector<Operation> operations_of(std::vector<std::unique_ptr<Client>> &clients, const std::string &operation) {
  std::vector<Operation> operations;
  for (auto &owned : clients) {
    Client *client = owned.get();
    if (operation == "create")
      operations.push_back([client] { return client->create(); });
    else if (operation == "validate")
      operations.push_back([client] { return client->validate(); });
    else if (operation == "refresh")
      operations.push_back([client] { return client->refresh(); });
    else if (operation == "revoke")
      operations.push_back([client] { return client->revoke(); });
    else
      operations.push_back([client] { return client->mix(); });
  }
  return operations;
}

std::string sql_value(const std::string &query) {
  pqxx::connection connection("");
  pqxx::nontransaction tx(connection);
  auto result = tx.exec(query);
  if (result.empty() || result[0][0].is_null())
    return "";
  return result[0][0].as<std::string>();
}

bool sql_function_exists(const std::string &signature) {
  pqxx::connection connection("");
  pqxx::nontransaction tx(connection);
  return !tx.exec_params("SELECT to_regprocedure($1)", signature)[0][0].is_null();
}

double bulk_fill(long n, const std::string &label) {
  const long chunk = 100000;
  const long users = std::max(1L, n / 4);
  const long workers = std::max(2u, std::thread::hardware_concurrency());
  auto fill = [&](pqxx::connection &connection, long first, long last) {
    pqxx::nontransaction tx(connection);
    tx.exec_params("SELECT count(*) FROM generate_series($1::bigint, $2::bigint) AS g, "
                   "LATERAL authflow.session_create('did:plc:' || $3 || (g % $4), $3 || (g % $4) || '.test') AS s",
                   first, last, label, users);
  };
  auto begin = Clock::now();
  // The first session of each user creates the user, on one connection: concurrent statements
  // inserting the same users in different orders could deadlock. The rest only read users.
  {
    pqxx::connection connection("");
    for (long first = 0; first < users; first += chunk)
      fill(connection, first, std::min(users, first + chunk) - 1);
  }
  std::vector<std::future<void>> parts;
  for (long w = 0; w < workers; ++w) {
    parts.push_back(std::async(std::launch::async, [&, w] {
      pqxx::connection connection("");
      for (long first = users + w * chunk; first < n; first += workers * chunk)
        fill(connection, first, std::min(n, first + chunk) - 1);
    }));
  }
  for (auto &part : parts)
    part.get();
  return std::chrono::duration<double>(Clock::now() - begin).count();
}

Measurement validate_during(Side &side, int clients, const std::function<void()> &work, double &work_seconds) {
  auto validators = clients_for(side, clients);
  auto operations = operations_of(validators, "validate");
  std::atomic<bool> stop{false};
  Measurement measured;
  std::thread load([&] { measured = run_timed(operations, 3600, &stop); });
  // Let the validators get going before the work starts.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto begin = Clock::now();
  try {
    work();
  } catch (...) {
    stop = true;
    load.join();
    side.collect(validators);
    throw;
  }
  work_seconds = std::chrono::duration<double>(Clock::now() - begin).count();
  stop = true;
  load.join();
  side.collect(validators);
  return measured;
}

} // namespace authflow::bench
