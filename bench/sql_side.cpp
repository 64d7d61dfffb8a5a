// sql_side.cpp: authflow over SQL. One prepared statement per operation, autocommit (no
// BEGIN/COMMIT round trips): each call is one statement and one transaction, as an application
// would issue it.
#include <libpq-fe.h>
#include <pqxx/pqxx>

#include <initializer_list>
#include <stdexcept>

#include <algorithm>
#include <future>
#include <thread>

#include "sessions.hpp"

namespace authflow::bench {

namespace {

// Tokens are URL-safe (letters, digits, '-', '_'), so they need no quoting in an array literal.
std::string array_literal(std::vector<Session>::const_iterator begin, std::vector<Session>::const_iterator end) {
  std::string literal = "{";
  for (auto it = begin; it != end; ++it) {
    if (literal.size() > 1)
      literal += ',';
    literal += it->refresh;
  }
  return literal + "}";
}

// SqlClient talks libpq directly in the measured operations: the Valkey side uses hiredis, a C
// client of the same weight, so the client's own CPU (which shares the machine's cores with the
// servers) does not tilt the comparison.
class SqlClient : public Client {
public:
  SqlClient(std::uint64_t seed, long users, std::string tenant)
      : Client(seed, users), tenant_(std::move(tenant)), connection_(PQconnectdb("")) {
    if (PQstatus(connection_) != CONNECTION_OK) {
      std::string message = PQerrorMessage(connection_);
      PQfinish(connection_);
      throw std::runtime_error("bench: cannot connect: " + message);
    }
    // The default tenant's create is the plain two-argument call the report describes.
    if (tenant_ == "default")
      prepare("create", "SELECT refresh_token, access_token FROM authflow.session_create($1, $2)", 2);
    else
      prepare("create", "SELECT refresh_token, access_token FROM authflow.session_create($1, $2, tenant => $3)", 3);
    prepare("validate", "SELECT user_id FROM authflow.session_validate($1)", 1);
    // With rotation (the tenant's refresh_rotation), the next refresh must present the new token.
    prepare("refresh", "SELECT access_token, new_refresh_token FROM authflow.session_refresh($1)", 1);
    prepare("revoke", "SELECT authflow.session_revoke($1)", 1);
  }
  ~SqlClient() override { PQfinish(connection_); }

  bool create() override {
    long user = random_user();
    const std::string id = user_id(user), handle = user_handle(user);
    Result result(tenant_ == "default" ? execute("create", {id.c_str(), handle.c_str()})
                                       : execute("create", {id.c_str(), handle.c_str(), tenant_.c_str()}));
    if (!result.has_one_row())
      return false;
    revocable.emplace_back(PQgetvalue(result.get(), 0, 0));
    return true;
  }

  bool validate() override {
    Session *session = next_live();
    if (session == nullptr)
      return false;
    Result result(execute("validate", {session->access.c_str()}));
    return result.has_one_row() && !PQgetisnull(result.get(), 0, 0);
  }

  bool refresh() override {
    Session *session = next_live();
    if (session == nullptr)
      return false;
    Result result(execute("refresh", {session->refresh.c_str()}));
    if (!result.has_one_row())
      return false;
    session->access = PQgetvalue(result.get(), 0, 0);
    if (!PQgetisnull(result.get(), 0, 1))
      session->refresh = PQgetvalue(result.get(), 0, 1);
    session->issued = Clock::now();
    return true;
  }

  bool revoke() override {
    if (revocable.empty())
      throw Exhausted{};
    std::string token = std::move(revocable.back());
    revocable.pop_back();
    Result result(execute("revoke", {token.c_str()}));
    return result.has_one_row() && PQgetvalue(result.get(), 0, 0)[0] == 't';
  }

private:
  // Result owns a PGresult.
  class Result {
  public:
    explicit Result(PGresult *result) : result_(result) {}
    ~Result() { PQclear(result_); }
    Result(const Result &) = delete;
    Result &operator=(const Result &) = delete;
    PGresult *get() const { return result_; }
    bool has_one_row() const { return PQresultStatus(result_) == PGRES_TUPLES_OK && PQntuples(result_) == 1; }

  private:
    PGresult *result_;
  };

  // prepare prepares a statement on this connection, or throws.
  void prepare(const char *name, const char *sql, int parameters) {
    Result result(PQprepare(connection_, name, sql, parameters, nullptr));
    if (PQresultStatus(result.get()) != PGRES_COMMAND_OK)
      throw std::runtime_error(std::string("bench: prepare ") + name + ": " + PQerrorMessage(connection_));
  }

  // execute runs a prepared statement with text parameters.
  PGresult *execute(const char *name, std::initializer_list<const char *> parameters) {
    return PQexecPrepared(connection_, name, static_cast<int>(parameters.size()), parameters.begin(), nullptr,
                          nullptr, 0);
  }

  std::string tenant_;
  PGconn *connection_;
};

void append(std::vector<Session> &to, std::vector<Session> from) {
  for (auto &session : from)
    to.push_back(std::move(session));
}

class SqlSide : public Side {
public:
  SqlSide(long user_count, std::string tenant) : tenant_(std::move(tenant)) { users = user_count; }

  std::string name() const override { return "authflow"; }

  std::unique_ptr<Client> connect(std::uint64_t seed) override {
    return std::make_unique<SqlClient>(seed, users, tenant_);
  }

  // bulk_create runs session_create over generate_series, in statements of up to 20000 sessions,
  // on as many connections as there are cores. The first call creates every user first, on one
  // connection (concurrent inserts of the same users could deadlock); later ones only read users.
  std::vector<Session> bulk_create(long n) override {
    std::vector<Session> all;
    if (!users_created_) {
      pqxx::connection connection("");
      for (long first = 0; first < users; first += chunk_)
        append(all, create_batch(connection, first, std::min(users, first + chunk_) - 1, true));
      users_created_ = true;
      n -= static_cast<long>(all.size());
    }
    const long workers = std::max(2u, std::thread::hardware_concurrency());
    std::vector<std::future<std::vector<Session>>> parts;
    for (long w = 0; w < workers && n > 0; ++w) {
      long share = n / workers + (w < n % workers ? 1 : 0);
      parts.push_back(std::async(std::launch::async, [this, share] {
        std::vector<Session> made;
        pqxx::connection connection("");
        for (long done = 0; done < share; done += chunk_)
          append(made, create_batch(connection, 1, std::min(chunk_, share - done), false));
        return made;
      }));
    }
    for (auto &part : parts)
      append(all, part.get());
    return all;
  }

  void renew(std::vector<Session> &sessions) override {
    pqxx::connection connection("");
    const std::size_t chunk = 10000;
    for (std::size_t first = 0; first < sessions.size(); first += chunk) {
      std::size_t last = std::min(sessions.size(), first + chunk);
      pqxx::nontransaction tx(connection);
      auto result = tx.exec_params("SELECT t.position, r.access_token, r.new_refresh_token "
                                   "FROM unnest($1::text[]) WITH ORDINALITY AS t(token, position), "
                                   "LATERAL authflow.session_refresh(t.token) AS r",
                                   array_literal(sessions.begin() + static_cast<std::ptrdiff_t>(first),
                                                 sessions.begin() + static_cast<std::ptrdiff_t>(last)));
      auto now = Clock::now();
      for (const auto &row : result) {
        auto &session = sessions[first + row[0].as<std::size_t>() - 1];
        session.access = row[1].as<std::string>();
        if (!row[2].is_null())
          session.refresh = row[2].as<std::string>();
        session.issued = now;
      }
    }
  }

private:
  // create_batch creates sessions for users first..last in order (every_user) or for `last`
  // random users.
  std::vector<Session> create_batch(pqxx::connection &connection, long first, long last, bool every_user) {
    pqxx::nontransaction tx(connection);
    auto result =
        every_user
            ? tx.exec_params(
                  "SELECT s.refresh_token, s.access_token FROM generate_series($1::bigint, $2::bigint) AS k, "
                  "LATERAL authflow.session_create('did:plc:bench' || k, 'bench' || k || '.test', tenant => $3) AS s",
                  first, last, tenant_)
            : tx.exec_params("SELECT s.refresh_token, s.access_token "
                             "FROM (SELECT floor(random() * $2)::bigint AS k FROM generate_series(1, $1)) AS u, "
                             "LATERAL authflow.session_create('did:plc:bench' || u.k, 'bench' || u.k || '.test', "
                             "tenant => $3) AS s",
                             last, users, tenant_);
    std::vector<Session> made;
    auto now = Clock::now();
    for (const auto &row : result)
      made.push_back({row[0].as<std::string>(), row[1].as<std::string>(), now});
    return made;
  }

  static constexpr long chunk_ = 20000;
  std::string tenant_;
  bool users_created_ = false;
};

} // namespace

std::unique_ptr<Side> make_sql_side(long users, const std::string &tenant) {
  return std::make_unique<SqlSide>(users, tenant);
}

} // namespace authflow::bench
