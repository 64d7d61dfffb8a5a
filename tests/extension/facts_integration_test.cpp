// facts_integration_test.cpp: facts that SQL, C++ and the docs share, held together. The token
// kinds live in the library (token.hpp); SQL reads them through authflow.token_kinds(), and the
// docs' table must name the same ones. So with the user codes' alphabet (user_code.hpp).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>

#include "database.hpp"
#include "token.hpp"
#include "user_code.hpp"

namespace {

std::string ReadSourceFile(const std::string &relative) {
  const char *root = std::getenv("AUTHFLOW_SOURCE_DIR");
  std::ifstream file(std::string(root == nullptr ? "." : root) + "/" + relative);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

using KindSet = std::set<std::pair<std::string, std::string>>;

TEST(SharedFacts, TokenKindsAreTheSameInTheLibrarySqlAndDocs) {
  KindSet library;
  for (const authflow::TokenKind kind : authflow::kTokenKinds)
    library.emplace(authflow::token_kind_name(kind), authflow::token_prefix(kind));
  ASSERT_EQ(library.size(), 6u);

  KindSet sql;
  auto connection = authflow::testing::connect();
  pqxx::work work(*connection);
  for (const auto &row : work.exec("SELECT kind, prefix FROM authflow.token_kinds()"))
    sql.emplace(row[0].as<std::string>(), row[1].as<std::string>());
  EXPECT_EQ(sql, library) << "authflow.token_kinds() reads the library's list";

  // docs/sql-api.md: "| prefix | the kind: `afa` access token, `afr` refresh token, ..."
  const std::string docs = ReadSourceFile("docs/sql-api.md");
  std::smatch line;
  ASSERT_TRUE(std::regex_search(docs, line, std::regex("\\| prefix \\| the kind: ([^|\\n]*)\\|")))
      << "docs/sql-api.md has the table of prefixes";
  std::set<std::string> documented;
  const std::string cell = line[1];
  const std::regex backticked("`([a-z]{3})`");
  for (std::sregex_iterator it(cell.begin(), cell.end(), backticked), end; it != end; ++it)
    documented.insert((*it)[1]);
  std::set<std::string> prefixes;
  for (const auto &[name, prefix] : library)
    prefixes.insert(prefix);
  EXPECT_EQ(documented, prefixes) << "docs/sql-api.md names exactly the library's prefixes";

  // Every kind the library knows is accepted by SQL, and the error for others lists them all.
  for (const auto &[name, prefix] : library)
    EXPECT_EQ(work.exec_params1("SELECT left(authflow.token_generate($1), 4)", name)[0].as<std::string>(), prefix + "_");
  try {
    work.exec("SELECT authflow.token_generate('nope')");
    ADD_FAILURE() << "an unknown kind was accepted";
  } catch (const pqxx::sql_error &error) {
    EXPECT_NE(std::string(error.what()).find(authflow::token_kind_list()), std::string::npos) << error.what();
  }
}

TEST(SharedFacts, UserCodeAlphabetIsTheSameInTheLibrarySqlAndDocs) {
  auto connection = authflow::testing::connect();
  pqxx::work work(*connection);
  const std::string alphabet(authflow::kUserCodeAlphabet);
  EXPECT_EQ(work.exec1("SELECT authflow.user_code_alphabet()")[0].as<std::string>(), alphabet);
  const std::string shown = work.exec1("SELECT authflow.user_code_generate()")[0].as<std::string>();
  EXPECT_TRUE(std::regex_match(shown, std::regex("[" + alphabet + "]{4}-[" + alphabet + "]{4}"))) << shown;
  EXPECT_NE(ReadSourceFile("docs/http-api.md").find("`" + alphabet + "`"), std::string::npos)
      << "docs/http-api.md names the library's alphabet";
}

} // namespace
