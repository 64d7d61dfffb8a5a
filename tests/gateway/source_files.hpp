// source_files.hpp: reading the checkout's own files (docker/, debian/, scripts/) in the tests that
// hold them to the code, and the gateway's --help, which names every setting.
#pragma once

#include <string>
#include <vector>

namespace authflow::testing {

// source_path is the absolute path of a path of the checkout.
std::string source_path(const std::string &path);

// read_source returns a file of the checkout (a path relative to its root), or "" when missing.
std::string read_source(const std::string &path);

// source_exists and source_executable look a path of the checkout up.
bool source_exists(const std::string &path);
bool source_executable(const std::string &path);

// split_words splits a text at white space.
std::vector<std::string> split_words(const std::string &text);

// gateway_help is what the real binary prints for --help.
std::string gateway_help();

} // namespace authflow::testing
