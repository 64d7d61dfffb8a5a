// user_code.hpp: the user codes of the OAuth device grant (RFC 8628 §6.1), typed by a person on
// a second screen: 8 characters of 20 consonants, shown as XXXX-XXXX.
//
// No vowels, so no word is spelt by accident, and no digits, so nothing reads as both 0 and O or
// 1 and I. 20^8 = 25.6e9 codes: 34.6 bits, which is why a code lives minutes and its entry is
// rate limited (docs/http-api.md computes the chance of a guess). Only an HMAC of the normalised
// code is stored.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace authflow {

// kUserCodeAlphabet is the RFC's 20-consonant alphabet; the one list (SQL reads it through
// authflow.user_code_alphabet(), and a test holds the docs to it).
inline constexpr std::string_view kUserCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ";
inline constexpr std::size_t kUserCodeLength = 8;
inline constexpr std::size_t kUserCodeShownLength = kUserCodeLength + 1; // with the dash

using UserCode = std::array<char, kUserCodeLength>;

// user_code_generate draws 8 characters uniformly from the alphabet (rejection sampling over the
// CSPRNG's bytes, so no character is likelier than another); throws authflow::Error when the
// CSPRNG fails.
UserCode user_code_generate();

// user_code_shown is a code as a person reads it: "XXXX-XXXX".
std::array<char, kUserCodeShownLength> user_code_shown(const UserCode &code) noexcept;

// user_code_normalize reads what a person typed: letters in either case, with any dashes and
// ASCII white space anywhere; it returns nothing unless exactly 8 characters of the alphabet are
// left. It never reads past input.size().
std::optional<UserCode> user_code_normalize(std::string_view input) noexcept;

} // namespace authflow
