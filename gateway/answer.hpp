// answer.hpp: an HTTP answer as the gateway writes it, built from the SQL function's row or
// made by the gateway itself for its own errors.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace authflow::gateway {

// The header the SQL side uses to name the route template; never sent to the client.
inline const char *const route_header = "x-authflow-route";
// The header in which the SQL side names the request's tenant (for the access log); never sent
// to the client. SQL alone knows which request headers name a tenant.
inline const char *const tenant_header = "x-authflow-tenant";
// The header carrying the code of an error the gateway itself answered.
inline const char *const known_error_header = "x-known-error";

struct HttpAnswer {
  int status = 500;
  std::vector<std::pair<std::string, std::string>> headers; // in order; names may repeat
  std::string body;
  std::string route = "unmatched"; // metrics and access-log label
  std::string tenant;               // access-log tenant as SQL named it; empty when SQL did not answer
};

// error_answer is the gateway's own error: JSON {"code","error"} and the code in x-known-error.
HttpAnswer error_answer(int status, const std::string &code, const std::string &message);

// answer_from_sql turns (status, headers::text, body) into an answer; nullopt when the row breaks
// the contract (status out of range, headers not an object of strings, unsafe header text).
std::optional<HttpAnswer> answer_from_sql(int status, const std::string &headers_json, const std::string &body);

// is_header_name checks an HTTP token; is_header_value rejects CR, LF, NUL and other controls.
bool is_header_name(const std::string &name);
bool is_header_value(const std::string &value);

} // namespace authflow::gateway
