// request.hpp: what the gateway takes from a parsed HTTP request before calling SQL.
#pragma once

#include <boost/beast/http.hpp>

#include <string>

namespace authflow::gateway {

using Request = boost::beast::http::request<boost::beast::http::string_body>;

// headers_json renders the request headers as a JSON object: lowercase name -> string value,
// repeated headers joined with ", " (cookie with "; ").
std::string headers_json(const Request &request);

// tenant_of returns x-tenant-id, else x-stack-project-id, else ""; cut to 128 characters.
std::string tenant_of(const Request &request);

// path_of returns the target without its query string.
std::string path_of(const std::string &target);

// is_valid_utf8 checks a body before it becomes a SQL text argument (no NUL either: libpq
// passes text parameters as C strings).
bool is_valid_utf8(const std::string &text);

} // namespace authflow::gateway
