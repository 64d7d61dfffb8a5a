// docker_files_test.cpp: what can be checked of docker/ without a Docker engine. The files parse,
// every path they copy or run exists, the environment names and ports match the gateway's --help,
// the health checks call endpoints the real gateway serves, and the init script calls functions
// the extension has.
#include "database.hpp"
#include "gateway_process.hpp"
#include "http_client.hpp"
#include "source_files.hpp"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace authflow::testing {
namespace {

// Instruction is one Dockerfile instruction with its continuation lines joined.
struct Instruction {
  std::string keyword;
  std::string arguments;
};

std::vector<Instruction> ParseDockerfile(const std::string &path) {
  std::vector<Instruction> instructions;
  std::istringstream lines(read_source(path));
  std::string line, pending;
  while (std::getline(lines, line)) {
    if (pending.empty() && (line.empty() || line[0] == '#'))
      continue;
    if (!line.empty() && line.back() == '\\') {
      pending += line.substr(0, line.size() - 1) + " ";
      continue;
    }
    pending += line;
    std::istringstream words(pending);
    Instruction instruction;
    words >> instruction.keyword;
    std::getline(words, instruction.arguments);
    instructions.push_back(instruction);
    pending.clear();
  }
  return instructions;
}

const std::vector<std::string> kDockerfiles = {"docker/postgres.Dockerfile", "docker/gateway.Dockerfile"};

TEST(DockerFiles, DockerfilesUseKnownInstructionsAndExistingPaths) {
  const std::set<std::string> known = {"FROM", "RUN",     "COPY",       "ENV",        "EXPOSE",
                                       "USER", "WORKDIR", "ENTRYPOINT", "CMD",        "HEALTHCHECK",
                                       "ARG",  "LABEL",   "VOLUME",     "STOPSIGNAL", "SHELL"};
  for (const auto &dockerfile : kDockerfiles) {
    ASSERT_TRUE(source_exists(dockerfile)) << dockerfile;
    std::set<std::string> stages;
    const auto instructions = ParseDockerfile(dockerfile);
    ASSERT_FALSE(instructions.empty());
    EXPECT_EQ(instructions.front().keyword, "FROM") << dockerfile;
    for (const auto &instruction : instructions) {
      EXPECT_TRUE(known.count(instruction.keyword)) << dockerfile << ": " << instruction.keyword;
      const auto words = split_words(instruction.arguments);
      if (instruction.keyword == "FROM" && words.size() == 3)
        stages.insert(words[2]);
      if (instruction.keyword == "COPY") {
        ASSERT_GE(words.size(), 2u);
        if (words[0].rfind("--from=", 0) == 0) {
          EXPECT_TRUE(stages.count(words[0].substr(7)))
              << dockerfile << ": copies from an undefined stage " << words[0];
          continue;
        }
        for (std::size_t i = 0; i + 1 < words.size(); ++i) {
          if (words[i] != ".") {
            EXPECT_TRUE(source_exists(words[i])) << dockerfile << ": COPY of a missing " << words[i];
          }
        }
      }
      if (instruction.keyword == "RUN") {
        static const std::regex script("(scripts/[A-Za-z0-9_.-]+)");
        for (std::sregex_iterator m(instruction.arguments.begin(), instruction.arguments.end(), script), end; m != end;
             ++m) {
          EXPECT_TRUE(source_executable((*m)[1])) << dockerfile << ": runs a missing " << (*m)[1];
        }
      }
    }
  }
}

TEST(DockerFiles, PostgresImageIsBuiltAndTestedWithTheProjectsOwnSteps) {
  const std::string text = read_source("docker/postgres.Dockerfile");
  EXPECT_NE(text.find("scripts/install-deps"), std::string::npos);
  EXPECT_NE(text.find("make install"), std::string::npos);
  // make test in the build takes a free port, not a fixed one that may be taken.
  EXPECT_TRUE(std::regex_search(
      text, std::regex("FROM build AS check\\s+RUN AUTHFLOW_PGPORT=\\$\\(scripts/ports free [0-9]+\\) make test")));
  EXPECT_NE(text.find("COPY --from=check"), std::string::npos) << "the final image depends on the check stage";
  bool database = false;
  for (const auto &instruction : ParseDockerfile("docker/postgres.Dockerfile")) {
    const auto words = split_words(instruction.arguments);
    database |= instruction.keyword == "ENV" && std::count(words.begin(), words.end(), "POSTGRES_DB=authflow") == 1;
  }
  EXPECT_TRUE(database) << "ENV POSTGRES_DB=authflow: the database is cron.database_name";
}

// The image ships what its tests ran on: every stage is the same Debian base, the runtime's
// PostgreSQL and pg_cron are Debian's (the packages scripts/install-deps installs), in exactly the
// versions the check stage recorded after make test.
TEST(DockerFiles, PostgresImageShipsTheTestedPackages) {
  std::vector<std::string> bases;
  for (const auto &instruction : ParseDockerfile("docker/postgres.Dockerfile")) {
    if (instruction.keyword == "FROM")
      bases.push_back(split_words(instruction.arguments).at(0));
  }
  ASSERT_EQ(bases.size(), 3u) << "build, check, runtime";
  EXPECT_EQ(bases[0], "debian:12");
  EXPECT_EQ(bases[1], "build");
  EXPECT_EQ(bases[2], bases[0]) << "the runtime is the base the tests ran on";

  const std::string text = read_source("docker/postgres.Dockerfile");
  EXPECT_EQ(text.find("postgres:15"), std::string::npos) << "no server from another repository";
  static const std::regex recorded("make test[\\s\\\\]*&&[\\s\\\\]*dpkg-query -W -f='\\$\\{Package\\}=\\$\\{Version\\}\\\\n' "
                                   "postgresql-15 postgresql-client-15 postgresql-15-cron [^>]*>/tested-packages");
  EXPECT_TRUE(std::regex_search(text, recorded)) << "the check stage records the tested versions after make test";
  EXPECT_NE(text.find("COPY --from=check /tested-packages"), std::string::npos);
  EXPECT_TRUE(std::regex_search(text, std::regex("apt-get install [^&]*\\$\\(cat /usr/share/authflow/tested-packages\\)")))
      << "the runtime installs exactly those versions";
  EXPECT_NE(text.find("create_main_cluster = false"), std::string::npos) << "no package cluster besides the image's";

  const std::string deps = read_source("scripts/install-deps");
  for (const char *package : {"postgresql-15 ", "postgresql-15-cron "})
    EXPECT_NE(deps.find(package), std::string::npos) << "install-deps installs " << package;
}

// The entrypoint starts the server as scripts/cluster does: pg_cron preloaded in the database
// authflow lives in; the first start's init server is reachable on its unix socket only.
TEST(DockerFiles, PostgresEntrypointInitializesAndStartsTheServer) {
  ASSERT_TRUE(source_executable("docker/entrypoint.sh"));
  const std::string dockerfile = read_source("docker/postgres.Dockerfile");
  EXPECT_NE(dockerfile.find("COPY docker/entrypoint.sh /usr/local/bin/authflow-postgres"), std::string::npos);
  EXPECT_NE(dockerfile.find("ENTRYPOINT [\"/usr/local/bin/authflow-postgres\"]"), std::string::npos);
  EXPECT_NE(dockerfile.find("COPY docker/initdb/10-authflow.sh /docker-entrypoint-initdb.d/"), std::string::npos);
  const std::string entrypoint = read_source("docker/entrypoint.sh");
  EXPECT_NE(entrypoint.find("shared_preload_libraries = 'pg_cron'"), std::string::npos);
  EXPECT_NE(entrypoint.find("cron.database_name = '$POSTGRES_DB'"), std::string::npos);
  EXPECT_NE(entrypoint.find("cron.use_background_workers = on"), std::string::npos);
  EXPECT_NE(entrypoint.find("pg_ctl -D \"$PGDATA\" -o \"-c listen_addresses=''\""), std::string::npos)
      << "the init server listens on no TCP address";
  EXPECT_NE(entrypoint.find("/docker-entrypoint-initdb.d/*"), std::string::npos);
  EXPECT_NE(entrypoint.find("exec setpriv --reuid=postgres"), std::string::npos) << "the server does not run as root";
  EXPECT_NE(entrypoint.find("exec postgres -D \"$PGDATA\""), std::string::npos) << "postgres is the container's process";
}

TEST(DockerFiles, InitScriptCallsFunctionsTheExtensionHas) {
  ASSERT_TRUE(source_executable("docker/initdb/10-authflow.sh"));
  const std::string script = read_source("docker/initdb/10-authflow.sh");
  static const std::regex call("authflow\\.([a-z_]+)\\(");
  auto connection = connect();
  pqxx::work work(*connection);
  int calls = 0;
  for (std::sregex_iterator m(script.begin(), script.end(), call), end; m != end; ++m, ++calls) {
    EXPECT_EQ(
        work.exec_params1("SELECT count(*) FROM pg_proc WHERE pronamespace = 'authflow'::regnamespace AND proname = $1",
                          (*m)[1].str())[0]
            .as<int>(),
        1)
        << (*m)[1];
  }
  EXPECT_GE(calls, 2);
}

TEST(DockerFiles, ComposeParsesAndMatchesTheGateway) {
  const YAML::Node compose = YAML::LoadFile(source_path("docker/compose.yaml"));
  const YAML::Node services = compose["services"];
  ASSERT_TRUE(services["postgres"] && services["gateway"]);
  for (const char *name : {"postgres", "gateway"}) {
    const YAML::Node build = services[name]["build"];
    EXPECT_EQ(build["context"].as<std::string>(), "..") << name;
    EXPECT_TRUE(source_exists(build["dockerfile"].as<std::string>())) << name;
    EXPECT_TRUE(services[name]["healthcheck"]["test"].IsSequence()) << name << " has a health check";
  }
  EXPECT_TRUE(compose["volumes"]["pgdata"]) << "a named volume";
  EXPECT_EQ(services["postgres"]["volumes"][0].as<std::string>(), "pgdata:/var/lib/postgresql/data");
  EXPECT_EQ(services["gateway"]["depends_on"]["postgres"]["condition"].as<std::string>(), "service_healthy");

  // Every environment name of the gateway is one its --help documents.
  const std::string help = gateway_help();
  ASSERT_NE(help.find("AUTHFLOW_LISTEN"), std::string::npos);
  const YAML::Node environment = services["gateway"]["environment"];
  for (const auto &entry : environment) {
    EXPECT_NE(help.find("[" + entry.first.as<std::string>() + "]"), std::string::npos) << entry.first.as<std::string>();
  }
  for (const auto &instruction : ParseDockerfile("docker/gateway.Dockerfile")) {
    if (instruction.keyword != "ENV")
      continue;
    static const std::regex name("(AUTHFLOW_[A-Z_]+)=");
    for (std::sregex_iterator m(instruction.arguments.begin(), instruction.arguments.end(), name), end; m != end; ++m) {
      EXPECT_NE(help.find("[" + (*m)[1].str() + "]"), std::string::npos) << (*m)[1];
    }
  }

  // The published port is the one the gateway listens on, and the image exposes it.
  const std::string listen = environment["AUTHFLOW_LISTEN"].as<std::string>();
  const std::string port = listen.substr(listen.rfind(':') + 1);
  const std::string published = services["gateway"]["ports"][0].as<std::string>();
  EXPECT_EQ(published.substr(published.rfind(':') + 1), port);
  EXPECT_NE(read_source("docker/gateway.Dockerfile").find("EXPOSE " + port), std::string::npos);

  // The gateway connects as its EXECUTE-only role, the one the init script creates.
  EXPECT_NE(environment["AUTHFLOW_DATABASE_URL"].as<std::string>().find("authflow_gateway:"), std::string::npos);
  EXPECT_NE(read_source("docker/initdb/10-authflow.sh").find("CREATE ROLE authflow_gateway"), std::string::npos);

  // The postgres health check asks for the database cron runs in, over TCP: the init server of
  // the first start listens on its unix socket only and must not count as ready. The image's own
  // health check asks the same.
  const YAML::Node postgres_check = services["postgres"]["healthcheck"]["test"];
  EXPECT_EQ(postgres_check[1].as<std::string>(), "pg_isready");
  EXPECT_EQ(postgres_check[postgres_check.size() - 1].as<std::string>(), "authflow");
  std::vector<std::string> check_words;
  for (const auto &word : postgres_check)
    check_words.push_back(word.as<std::string>());
  const auto host = std::find(check_words.begin(), check_words.end(), "-h");
  ASSERT_NE(host, check_words.end()) << "pg_isready -h";
  ASSERT_NE(host + 1, check_words.end());
  EXPECT_EQ(*(host + 1), "127.0.0.1");
  EXPECT_NE(read_source("docker/postgres.Dockerfile")
                .find("HEALTHCHECK --interval=5s --timeout=3s CMD [\"pg_isready\", \"-h\", \"127.0.0.1\", \"-U\", "
                      "\"postgres\", \"-d\", \"authflow\"]"),
            std::string::npos);
}

// The compose file works with Compose v2 and with Compose 1.27+ (Debian 12 ships 1.29): no
// top-level `name:` (v2.3+ only; 1.29 rejects the file), the project name is given with -p, and
// the README says so.
TEST(DockerFiles, ComposeFileWorksWithComposeOneAndTwo) {
  const YAML::Node compose = YAML::LoadFile(source_path("docker/compose.yaml"));
  EXPECT_FALSE(compose["name"]) << "docker-compose 1.29 rejects a top-level name";
  const std::string readme = read_source("README.md");
  EXPECT_NE(readme.find("docker compose -p authflow -f docker/compose.yaml up --build"), std::string::npos);
  EXPECT_NE(readme.find("docker-compose -p authflow -f docker/compose.yaml up --build"), std::string::npos);
}

TEST(DockerFiles, HealthChecksCallEndpointsTheGatewayServes) {
  std::vector<std::string> paths;
  static const std::regex url("http://127\\.0\\.0\\.1:[0-9]+(/[A-Za-z0-9/_-]*)");
  const YAML::Node compose = YAML::LoadFile(source_path("docker/compose.yaml"));
  for (const auto &word : compose["services"]["gateway"]["healthcheck"]["test"]) {
    std::smatch m;
    const std::string text = word.as<std::string>();
    if (std::regex_search(text, m, url))
      paths.push_back(m[1]);
  }
  const std::string dockerfile = read_source("docker/gateway.Dockerfile");
  for (std::sregex_iterator m(dockerfile.begin(), dockerfile.end(), url), end; m != end; ++m)
    paths.push_back((*m)[1]);
  ASSERT_EQ(paths.size(), 2u) << "compose and the image each have an HTTP health check";

  GatewayProcess gateway({"--pool-size", "1"});
  for (const auto &path : paths) {
    const auto response = get_once(gateway.port(), path);
    EXPECT_EQ(response.result_int(), 200) << path;
  }
}

} // namespace
} // namespace authflow::testing
