// rate_limit_environment.cpp: the gateway suites send far more anonymous sign-ups and CLI starts
// from 127.0.0.1 than the default tenant's limits allow a minute. For the run, the default
// tenant's limits are lifted, and put back as they were afterwards (rate_limit_test.cpp checks
// the limits themselves, in a tenant of its own).
#include "database.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace authflow::testing {
namespace {

class UnlimitedDefaultTenant : public ::testing::Environment {
public:
  void SetUp() override {
    auto connection = connect();
    pqxx::work work(*connection);
    for (const auto &row : work.exec("SELECT action, per_address_per_minute::text, per_tenant_per_minute::text "
                                     "FROM authflow.rate_limits l JOIN authflow.tenants t USING (tenant_id) "
                                     "WHERE t.name = 'default'"))
      saved_.push_back({row[0].as<std::string>(), row[1].is_null() ? "NULL" : row[1].as<std::string>(),
                        row[2].is_null() ? "NULL" : row[2].as<std::string>()});
    work.exec("SELECT authflow.rate_limit_set(action, NULL, NULL) FROM authflow.rate_limit_defaults()");
    work.commit();
  }
  void TearDown() override {
    auto connection = connect();
    pqxx::work work(*connection);
    work.exec("DELETE FROM authflow.rate_limits WHERE tenant_id = (SELECT tenant_id FROM authflow.tenants "
              "WHERE name = 'default')");
    for (const Saved &limit : saved_)
      work.exec("SELECT authflow.rate_limit_set(" + work.quote(limit.action) + ", " + limit.per_address + ", " +
                limit.per_tenant + ")");
    work.commit();
  }

private:
  struct Saved {
    std::string action, per_address, per_tenant;
  };
  std::vector<Saved> saved_;
};

const ::testing::Environment *const registered = ::testing::AddGlobalTestEnvironment(new UnlimitedDefaultTenant);

} // namespace
} // namespace authflow::testing
