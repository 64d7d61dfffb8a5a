// error.hpp: the one exception type of the pure core, carrying a SQLSTATE.
#pragma once

#include <stdexcept>

namespace authflow {

// Error carries the five-character SQLSTATE that the Postgres layer raises for it.
class Error : public std::runtime_error {
public:
  Error(const char *sqlstate, const char *message) : std::runtime_error(message), sqlstate_(sqlstate) {}
  const char *sqlstate() const noexcept { return sqlstate_; }

private:
  const char *sqlstate_; // always a string literal
};

// SQLSTATEs the core raises.
inline constexpr const char *kInvalidParameter = "22023"; // invalid_parameter_value
inline constexpr const char *kSystemError = "58000";      // system_error (CSPRNG failure)

} // namespace authflow
