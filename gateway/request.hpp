// request.hpp: what the gateway takes from a parsed HTTP request before calling SQL.
#pragma once

#include <boost/beast/http.hpp>

#include <string>

namespace authflow::gateway {

using Request = boost::beast::http::request<boost::beast::http::string_body>;

// client_address_header is the header through which SQL learns the client's address (rate
// limits, the sessions' devices); the gateway always sets it (client_address.hpp: the connection's
// peer, or what a trusted proxy forwarded), so a client cannot choose it.
inline const char *const client_address_header = "x-authflow-client-address";

// headers_json renders the request headers as a JSON object: lowercase name -> string value,
// repeated headers joined with ", " (cookie with "; "), and client_address_header set to the
// client's address (whatever the client sent under that name).
std::string headers_json(const Request &request, const std::string &client_address);

// path_of returns the target without its query string.
std::string path_of(const std::string &target);

// is_valid_utf8 checks a body before it becomes a SQL text argument (no NUL either: libpq
// passes text parameters as C strings).
bool is_valid_utf8(const std::string &text);

} // namespace authflow::gateway
