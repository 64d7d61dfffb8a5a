// source_files.cpp: see source_files.hpp.
#include "source_files.hpp"

#include "gateway_process.hpp"

#include <sys/stat.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace authflow::testing {

namespace {
const std::string kSource = AUTHFLOW_SOURCE_DIR;
}

std::string source_path(const std::string &path) { return kSource + "/" + path; }

std::string read_source(const std::string &path) {
  std::ifstream file(source_path(path));
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

bool source_exists(const std::string &path) {
  struct stat info;
  return ::stat(source_path(path).c_str(), &info) == 0;
}

bool source_executable(const std::string &path) {
  struct stat info;
  return ::stat(source_path(path).c_str(), &info) == 0 && (info.st_mode & S_IXUSR);
}

std::vector<std::string> split_words(const std::string &text) {
  std::istringstream stream(text);
  std::vector<std::string> result;
  for (std::string word; stream >> word;)
    result.push_back(word);
  return result;
}

std::string gateway_help() {
  std::string help;
  FILE *pipe = ::popen((gateway_binary() + " --help").c_str(), "r");
  std::array<char, 4096> buffer;
  while (pipe != nullptr && std::fgets(buffer.data(), buffer.size(), pipe) != nullptr)
    help += buffer.data();
  if (pipe != nullptr)
    ::pclose(pipe);
  return help;
}

} // namespace authflow::testing
