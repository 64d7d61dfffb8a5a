// core_test.cpp: the extension's pure C++ core (token.hpp, crypto.hpp, user_code.hpp), without a server.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <string>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "crypto.hpp"
#include "token.hpp"
#include "user_code.hpp"

namespace {

using authflow::TokenKind;

std::string Hex(const authflow::Sha256Digest &digest) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (auto byte : digest) {
    out += digits[byte >> 4];
    out += digits[byte & 15];
  }
  return out;
}

std::string Sha256Hex(const std::string &input) { return Hex(authflow::sha256(input.data(), input.size())); }

std::string Issue(TokenKind kind) {
  const auto issued = authflow::token_issue(kind, authflow::random_row_id());
  return std::string(issued.text.data(), issued.text.size());
}

// Published test vectors (FIPS 180-2 / NIST CSRC examples).
// RFC 4231's HMAC-SHA-256 test cases 1, 2, 3, 6 and 7 (a key longer than a block, and a message
// longer than one).
std::string HmacHex(const std::string &key, const std::string &data) {
  return Hex(authflow::hmac_sha256(key.data(), key.size(), data.data(), data.size()));
}

TEST(HmacSha256, Rfc4231Vectors) {
  EXPECT_EQ(HmacHex(std::string(20, '\x0b'), "Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(HmacHex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(HmacHex(std::string(20, '\xaa'), std::string(50, '\xdd')),
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
  EXPECT_EQ(HmacHex(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  EXPECT_EQ(HmacHex(std::string(131, '\xaa'),
                    "This is a test using a larger than block-size key and a larger than block-size data. The key "
                    "needs to be hashed before being used by the HMAC algorithm."),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
  // A message longer than the inline buffer, against OpenSSL's own HMAC.
  const std::string key = "k", long_message(1000, 'm');
  unsigned char expected[32];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char *>(long_message.data()), long_message.size(), expected, &length);
  authflow::Sha256Digest want;
  std::memcpy(want.data(), expected, want.size());
  EXPECT_EQ(HmacHex(key, long_message), Hex(want));
}

TEST(Sha256, EmptyString) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
TEST(Sha256, Abc) { EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"); }
TEST(Sha256, TwoBlockMessage448Bits) {
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}
TEST(Sha256, Message896Bits) {
  EXPECT_EQ(Sha256Hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrs"
                      "mnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}
TEST(Sha256, OneMillionA) {
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(SecureEqual, EqualBytesAreEqual) {
  EXPECT_TRUE(authflow::secure_equal("abcd", 4, "abcd", 4));
  EXPECT_TRUE(authflow::secure_equal("", 0, "", 0));
}
TEST(SecureEqual, DifferentBytesAreNotEqual) {
  EXPECT_FALSE(authflow::secure_equal("abcd", 4, "abce", 4));
  EXPECT_FALSE(authflow::secure_equal("\0bcd", 4, "abcd", 4));
}
TEST(SecureEqual, DifferentLengthsAreNotEqual) {
  EXPECT_FALSE(authflow::secure_equal("abc", 3, "abcd", 4));
  EXPECT_FALSE(authflow::secure_equal("", 0, "a", 1));
}

TEST(TokenKinds, NamesRoundTrip) {
  for (const char *name : {"access", "refresh", "polling", "login", "key", "device"}) {
    const auto kind = authflow::token_kind_from_name(name);
    ASSERT_TRUE(kind.has_value()) << name;
    EXPECT_EQ(authflow::token_kind_name(*kind), name);
  }
  EXPECT_FALSE(authflow::token_kind_from_name("Access").has_value());
  EXPECT_FALSE(authflow::token_kind_from_name("").has_value());
  EXPECT_FALSE(authflow::token_kind_from_name(std::string_view("access\0", 7)).has_value());
}

struct FormatCase {
  TokenKind kind;
  const char *prefix;
};

class TokenFormat : public ::testing::TestWithParam<FormatCase> {};

TEST_P(TokenFormat, HasPrefixHexRowIdAndBase64UrlSecret) {
  const std::string token = Issue(GetParam().kind);
  ASSERT_EQ(token.size(), 80u);
  EXPECT_EQ(token.substr(0, 4), std::string(GetParam().prefix) + "_");
  EXPECT_EQ(token[36], '_');
  for (std::size_t i = 4; i < 36; ++i)
    EXPECT_TRUE(std::strchr("0123456789abcdef", token[i])) << token;
  const char *url_safe = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (std::size_t i = 37; i < token.size(); ++i)
    EXPECT_TRUE(std::strchr(url_safe, token[i])) << token;
}

TEST_P(TokenFormat, ParsesBackToItsParts) {
  const authflow::RowId row_id = authflow::random_row_id();
  const auto issued = authflow::token_issue(GetParam().kind, row_id);
  const auto parsed = authflow::token_parse(std::string_view(issued.text.data(), issued.text.size()));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->kind, GetParam().kind);
  EXPECT_EQ(parsed->row_id, row_id);
  EXPECT_EQ(authflow::sha256(parsed->secret.data(), parsed->secret.size()), issued.secret_hash);
}

INSTANTIATE_TEST_SUITE_P(AllKinds, TokenFormat,
                         ::testing::Values(FormatCase{TokenKind::access, "afa"}, FormatCase{TokenKind::refresh, "afr"},
                                           FormatCase{TokenKind::polling, "afp"}, FormatCase{TokenKind::login, "afl"},
                                           FormatCase{TokenKind::key, "afk"}, FormatCase{TokenKind::device, "afd"}));

TEST(TokenGeneration, HundredThousandTokensAreDistinct) {
  std::set<std::string> tokens;
  std::set<std::string> secrets;
  const authflow::RowId same_row = authflow::random_row_id();
  for (int i = 0; i < 100000; ++i) {
    const auto issued = authflow::token_issue(TokenKind::access, same_row);
    const std::string token(issued.text.data(), issued.text.size());
    tokens.insert(token);
    secrets.insert(token.substr(37));
  }
  EXPECT_EQ(tokens.size(), 100000u);
  EXPECT_EQ(secrets.size(), 100000u);
}

TEST(TokenGeneration, RandomRowIdsAreVersion4Uuids) {
  for (int i = 0; i < 1000; ++i) {
    const auto id = authflow::random_row_id();
    EXPECT_EQ(id[6] >> 4, 4);
    EXPECT_EQ(id[8] >> 6, 2);
  }
}

TEST(TokenGeneration, TimeOrderedRowIdsAreVersion7AndSortByTime) {
  const auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  authflow::RowId previous = authflow::time_ordered_row_id();
  std::set<authflow::RowId> seen{previous};
  for (int i = 0; i < 10000; ++i) {
    const auto id = authflow::time_ordered_row_id();
    EXPECT_EQ(id[6] >> 4, 7);
    EXPECT_EQ(id[8] >> 6, 2);
    // The first 48 bits are the time: never earlier than an id made before.
    EXPECT_GE(std::memcmp(id.data(), previous.data(), 6), 0);
    seen.insert(id);
    previous = id;
  }
  EXPECT_EQ(seen.size(), 10001u);
  std::uint64_t stamp = 0;
  for (int i = 0; i < 6; ++i) stamp = (stamp << 8) | previous[i];
  EXPECT_GE(static_cast<long long>(stamp), static_cast<long long>(before));
  EXPECT_LE(static_cast<long long>(stamp), static_cast<long long>(before) + 60000);
}

TEST(Base64Url, MatchesRfc4648Vectors) {
  // RFC 4648 section 10, unpadded.
  const std::pair<const char *, const char *> vectors[] = {
      {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},         {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};
  for (const auto &[input, expected] : vectors) {
    std::string out(authflow::base64url_length(std::strlen(input)), '?');
    authflow::base64url_encode(reinterpret_cast<const std::uint8_t *>(input), std::strlen(input), out.data());
    EXPECT_EQ(out, expected) << input;
  }
  const std::uint8_t url_bytes[] = {0xfb, 0xff};
  std::string out(3, '?');
  authflow::base64url_encode(url_bytes, 2, out.data());
  EXPECT_EQ(out, "-_8");
}

TEST(TokenParse, RejectsMalformedInput) {
  const std::string good = Issue(TokenKind::refresh);
  ASSERT_TRUE(authflow::token_parse(good).has_value());

  std::vector<std::pair<std::string, std::string>> bad = {
      {"empty", ""},
      {"prefix only", "afr_"},
      {"one character short", good.substr(0, 79)},
      {"one character long", good + "A"},
      {"unknown prefix", "xyz" + good.substr(3)},
      {"upper-case prefix", "AFR" + good.substr(3)},
      {"missing first separator", "afr-" + good.substr(4)},
      {"missing second separator", good.substr(0, 36) + "." + good.substr(37)},
      {"upper-case hex in row id", good.substr(0, 4) + "ABCDEF0123456789ABCDEF0123456789" + good.substr(36)},
      {"non-hex row id", good.substr(0, 4) + std::string(32, 'g') + good.substr(36)},
      {"padding in secret", good.substr(0, 79) + "="},
      {"plus in secret", good.substr(0, 40) + "+" + good.substr(41)},
      {"slash in secret", good.substr(0, 40) + "/" + good.substr(41)},
      {"space in secret", good.substr(0, 40) + " " + good.substr(41)},
      {"NUL in secret", good.substr(0, 40) + std::string(1, '\0') + good.substr(41)},
      {"non-ASCII byte", good.substr(0, 40) + "\xc3" + good.substr(41)},
      {"over-long input", std::string(1 << 20, 'a')},
      {"hex secret of a foreign token", "afr_" + std::string(32, '0') + "_" + std::string(43, 'f')},
  };
  for (const auto &[label, input] : bad) {
    EXPECT_FALSE(authflow::token_parse(input).has_value()) << label;
  }
}

TEST(TokenParse, RejectsNonCanonicalLastCharacter) {
  // The 43rd character carries two unused bits; only the spelling with zero bits is accepted.
  std::string token = Issue(TokenKind::access);
  token.back() = 'A';
  ASSERT_TRUE(authflow::token_parse(token).has_value());
  token.back() = 'B';
  EXPECT_FALSE(authflow::token_parse(token).has_value());
}

TEST(UserCode, GeneratedCodesAreEightAlphabetCharactersShownWithADash) {
  for (int i = 0; i < 1000; ++i) {
    const auto shown = authflow::user_code_shown(authflow::user_code_generate());
    const std::string text(shown.data(), shown.size());
    ASSERT_EQ(text.size(), 9u);
    EXPECT_EQ(text[4], '-') << text;
    for (std::size_t k = 0; k < text.size(); ++k) {
      if (k != 4) {
        EXPECT_NE(authflow::kUserCodeAlphabet.find(text[k]), std::string_view::npos) << text;
      }
    }
  }
}

TEST(UserCode, EveryCharacterOfTheAlphabetIsDrawnEvenly) {
  // 80,000 codes, 640,000 characters: each of the 20 is expected 32,000 times (sd ~ 174); a
  // biased draw (byte % 20 without rejection) puts the last 4 at 30,000, far below the bound.
  std::map<char, int> counts;
  for (int i = 0; i < 80000; ++i) {
    for (const char c : authflow::user_code_generate())
      ++counts[c];
  }
  ASSERT_EQ(counts.size(), authflow::kUserCodeAlphabet.size());
  for (const auto &[c, n] : counts) {
    EXPECT_GT(n, 31000) << c;
    EXPECT_LT(n, 33000) << c;
  }
}

TEST(UserCode, TenThousandCodesAreDistinctEnough) {
  std::set<std::string> codes;
  for (int i = 0; i < 10000; ++i) {
    const auto code = authflow::user_code_generate();
    codes.emplace(code.data(), code.size());
  }
  // 10,000 draws from 25.6e9: a collision has a chance of about 0.2 %; two or more, far less.
  EXPECT_GE(codes.size(), 9999u);
}

TEST(UserCode, NormalizeAcceptsWhatAPersonTypes) {
  const std::pair<const char *, const char *> accepted[] = {
      {"BCDF-GHJK", "BCDFGHJK"}, {"bcdf-ghjk", "BCDFGHJK"}, {"BcDfGhJk", "BCDFGHJK"},
      {" bcdf ghjk ", "BCDFGHJK"}, {"B-C-D-F-G-H-J-K", "BCDFGHJK"}, {"wxzq\tvtsr", "WXZQVTSR"},
      {"--ZZZZZZZZ--", "ZZZZZZZZ"}, {"zzzz\r\nzzzz", "ZZZZZZZZ"},
  };
  for (const auto &[input, expected] : accepted) {
    const auto code = authflow::user_code_normalize(input);
    ASSERT_TRUE(code.has_value()) << input;
    EXPECT_EQ(std::string(code->data(), code->size()), expected) << input;
  }
}

TEST(UserCode, NormalizeRejectsEverythingElse) {
  const std::pair<const char *, std::string> refused[] = {
      {"empty", ""},
      {"seven characters", "BCDF-GHJ"},
      {"nine characters", "BCDF-GHJKL"},
      {"a vowel", "BCDF-GHJA"},
      {"a digit", "BCDF-GHJ1"},
      {"a letter outside the alphabet (Y)", "BCDF-GHJY"},
      {"an underscore", "BCDF_GHJK"},
      {"NUL inside", std::string("BCDF\0GHJK", 9)},
      {"non-ASCII", "BCDF-GHJ\xc3\x9f"},
      {"only dashes", "---------"},
      {"a megabyte", std::string(1 << 20, 'B')},
  };
  for (const auto &[label, input] : refused)
    EXPECT_FALSE(authflow::user_code_normalize(input).has_value()) << label;
}

TEST(UserCode, ShownCodesNormalizeBackToThemselves) {
  const auto code = authflow::user_code_generate();
  const auto shown = authflow::user_code_shown(code);
  const auto back = authflow::user_code_normalize(std::string_view(shown.data(), shown.size()));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, code);
}

} // namespace
