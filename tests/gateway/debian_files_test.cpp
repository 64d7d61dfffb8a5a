// debian_files_test.cpp: what can be checked of debian/ without building a package (make test-deb
// builds, installs and runs them). The package's version is the extension's, every release has
// its changelog entry, debian/control is the one pg_buildext generates from control.in, the build
// dependencies are the ones scripts/install-deps installs, and the unit runs the installed binary
// as the user postinst creates, with settings the gateway knows.
#include "source_files.hpp"

#include <gtest/gtest.h>

#include <dirent.h>

#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace authflow::testing {
namespace {

std::vector<std::string> lines(const std::string &text) {
  std::vector<std::string> result;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);)
    result.push_back(line);
  return result;
}

std::string extension_version() {
  std::smatch m;
  const std::string control = read_source("extension/authflow.control");
  EXPECT_TRUE(std::regex_search(control, m, std::regex("default_version = '([^']+)'")));
  return m[1];
}

// changelog_versions: the version of every entry of debian/changelog, newest first.
std::vector<std::string> changelog_versions() {
  std::vector<std::string> versions;
  static const std::regex entry("^authflow \\(([^)]+)\\) [A-Za-z-]+; urgency=[a-z]+$");
  for (const auto &line : lines(read_source("debian/changelog"))) {
    std::smatch m;
    if (std::regex_match(line, m, entry))
      versions.push_back(m[1]);
  }
  return versions;
}

// unit_value: the last value of a setting in the unit file.
std::string unit_value(const std::string &name) {
  std::string value;
  for (const auto &line : lines(read_source("debian/authflow-gateway.service")))
    if (line.rfind(name + "=", 0) == 0)
      value = line.substr(name.size() + 1);
  return value;
}

TEST(DebianFiles, ThePackagesVersionIsTheExtensions) {
  const auto versions = changelog_versions();
  ASSERT_FALSE(versions.empty());
  EXPECT_EQ(versions.front(), extension_version())
      << "debian/changelog starts with an entry for default_version of extension/authflow.control";
}

// scripts/build-deb --release X packages a release with its changelog from X down.
TEST(DebianFiles, EveryReleasedScriptHasItsChangelogEntry) {
  const auto versions = changelog_versions();
  const std::set<std::string> known(versions.begin(), versions.end());
  static const std::regex install_script("authflow--([0-9]+\\.[0-9]+\\.[0-9]+)\\.sql");
  int releases = 0;
  DIR *sql = ::opendir(source_path("sql").c_str());
  ASSERT_NE(sql, nullptr);
  while (const dirent *entry = ::readdir(sql)) {
    std::cmatch m;
    if (!std::regex_match(entry->d_name, m, install_script))
      continue;
    ++releases;
    EXPECT_TRUE(known.count(m[1])) << "no debian/changelog entry for " << m[1];
  }
  ::closedir(sql);
  EXPECT_GE(releases, 1) << "sql/authflow--0.1.0.sql is released";
}

TEST(DebianFiles, ControlIsGeneratedFromControlIn) {
  const auto pgversions = split_words(read_source("debian/pgversions"));
  ASSERT_EQ(pgversions.size(), 1u) << "one PostgreSQL version";
  const std::string generated =
      std::regex_replace(read_source("debian/control.in"), std::regex("PGVERSION"), pgversions[0]);
  EXPECT_EQ(read_source("debian/control"), generated) << "run: pg_buildext updatecontrol";
  EXPECT_NE(generated.find("Package: postgresql-" + pgversions[0] + "-authflow\n"), std::string::npos);
  EXPECT_NE(generated.find("Package: authflow-gateway\n"), std::string::npos);
  EXPECT_NE(read_source("debian/rules").find("dh $@ --with pgxs_loop"), std::string::npos)
      << "the extension is built by pg_buildext";
}

TEST(DebianFiles, BuildDependenciesAreTheOnesInstallDepsInstalls) {
  const std::string control = read_source("debian/control");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(control, m, std::regex("\nBuild-Depends:\n((?: [^\n]*\n)+)")));
  const auto installed = split_words(std::regex_replace(read_source("scripts/install-deps"), std::regex("[()]"), " "));
  const std::set<std::string> known(installed.begin(), installed.end());
  int dependencies = 0;
  for (const auto &line : lines(m[1])) {
    std::smatch name;
    ASSERT_TRUE(std::regex_search(line, name, std::regex("^ ([a-z0-9][a-z0-9+.-]*)"))) << line;
    std::string package = name[1];
    if (package == "debhelper-compat")
      package = "debhelper"; // a virtual package debhelper provides
    ++dependencies;
    EXPECT_TRUE(known.count(package)) << package << " is not installed by scripts/install-deps (--deb)";
  }
  EXPECT_GE(dependencies, 5);
}

TEST(DebianFiles, TheUnitRunsTheInstalledGatewayAsItsOwnUser) {
  EXPECT_EQ(unit_value("ExecStart"), "/usr/bin/authflow-gateway");
  EXPECT_NE(read_source("gateway/CMakeLists.txt")
                .find("install(TARGETS authflow-gateway RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})"),
            std::string::npos);
  EXPECT_EQ(unit_value("Restart"), "on-failure");
  const std::string user = unit_value("User");
  ASSERT_FALSE(user.empty());
  EXPECT_NE(user, "root");
  EXPECT_EQ(unit_value("Group"), user);
  EXPECT_TRUE(std::regex_search(read_source("debian/authflow-gateway.postinst"),
                                std::regex("adduser --system --group [^\n]*\\\\\n[^\n]* " + user + "\n")))
      << "postinst creates " << user;
  EXPECT_NE(read_source("debian/gateway.env").find("CREATE ROLE " + user + " LOGIN"), std::string::npos)
      << "the database role has the system user's name (peer authentication)";
  // The environment file the unit reads is the one the package installs.
  EXPECT_EQ(unit_value("EnvironmentFile"), "/etc/authflow/gateway.env");
  EXPECT_NE(read_source("debian/authflow-gateway.install").find("debian/gateway.env etc/authflow\n"),
            std::string::npos);
}

// systemd reads NAME=value lines; the test of the installed package parses them the same way.
TEST(DebianFiles, TheEnvironmentFileSetsOnlySettingsTheGatewayKnows) {
  const std::string help = gateway_help();
  ASSERT_NE(help.find("[AUTHFLOW_DATABASE_URL]"), std::string::npos);
  int settings = 0;
  for (const auto &line : lines(read_source("debian/gateway.env"))) {
    if (line.empty() || line[0] == '#')
      continue;
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, std::regex("([A-Z_]+)=([^\"' ]*)"))) << "NAME=value, unquoted: " << line;
    EXPECT_NE(help.find("[" + m[1].str() + "]"), std::string::npos) << m[1];
    ++settings;
  }
  EXPECT_GE(settings, 2);
}

TEST(DebianFiles, ReadmeSaysHowToInstallThePackages) {
  const std::string readme = read_source("README.md");
  for (const char *step :
       {"make deb", "apt install ./build/deb/postgresql-15-authflow_*.deb ./build/deb/authflow-gateway_*.deb",
        "/etc/authflow/gateway.env", "systemctl enable --now authflow-gateway", "ALTER EXTENSION authflow UPDATE",
        "make test-deb"})
    EXPECT_NE(readme.find(step), std::string::npos) << step;
  EXPECT_NE(read_source(".ci/run").find("make test-deb"), std::string::npos);
}

} // namespace
} // namespace authflow::testing
