// token.hpp: authflow tokens, "<prefix>_<row id>_<secret>".
//
//   prefix  three letters naming the kind: afa (access), afr (refresh), afp (polling code),
//           afl (login code), afk (API key), afd (device code of the OAuth device grant)
//   row id  the 16-byte id of the row the token belongs to, as 32 lowercase hex digits
//   secret  32 bytes (256 bits) from the CSPRNG, base64url without padding (43 characters)
//
// Every token is exactly kTokenLength characters and URL-safe. Only SHA-256(secret) is stored.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "crypto.hpp"

namespace authflow {

enum class TokenKind : std::uint8_t { access, refresh, polling, login, key, device };
// kTokenKinds is every kind, in order. The one list of kinds: SQL reads it through
// authflow.token_kinds(), and a test holds docs/sql-api.md to it.
inline constexpr TokenKind kTokenKinds[] = {TokenKind::access, TokenKind::refresh, TokenKind::polling, TokenKind::login,
                                            TokenKind::key,    TokenKind::device};

inline constexpr std::size_t kRowIdSize = 16;
inline constexpr std::size_t kSecretSize = 32;
inline constexpr std::size_t kPrefixLength = 3;
inline constexpr std::size_t kRowIdLength = 2 * kRowIdSize;
inline constexpr std::size_t kSecretLength = 43; // ceil(32 * 4 / 3), unpadded
inline constexpr std::size_t kTokenLength = kPrefixLength + 1 + kRowIdLength + 1 + kSecretLength;

using RowId = std::array<std::uint8_t, kRowIdSize>;
using Secret = std::array<std::uint8_t, kSecretSize>;

// token_kind_from_name maps "access", "refresh", "polling", "login", "key", "device" to a kind.
std::optional<TokenKind> token_kind_from_name(std::string_view name) noexcept;
// token_kind_name is the inverse of token_kind_from_name.
std::string_view token_kind_name(TokenKind kind) noexcept;
// token_prefix is the three-letter prefix of a kind ("afa", ...).
std::string_view token_prefix(TokenKind kind) noexcept;
// token_kind_list is every kind's name, joined by ", " ("access, refresh, ...").
const char *token_kind_list() noexcept;

// random_row_id returns a random (version 4) UUID.
RowId random_row_id();

// time_ordered_row_id returns a version 7 UUID: 48 bits of Unix time in milliseconds, then 74
// random bits. Ids made later sort later, so a primary key on them grows at its right edge and
// its pages stay full, instead of splitting at random places.
RowId time_ordered_row_id();

// IssuedToken is a fresh token and the hash of its secret, which is what gets stored.
struct IssuedToken {
  std::array<char, kTokenLength> text;
  Sha256Digest secret_hash;
};

// token_issue makes a new token of `kind` for row `row_id` with a fresh secret.
IssuedToken token_issue(TokenKind kind, const RowId &row_id);

// token_from_secret makes the token of `kind` for row `row_id` with the given secret.
IssuedToken token_from_secret(TokenKind kind, const RowId &row_id, const Secret &secret) noexcept;

// RotatedPair is the pair of tokens a refresh with rotation hands out: both secrets derived from
// the presented refresh token's secret with HMAC-SHA-256 under the extension's rotation key, so
// the server can derive the same pair again (concurrent refreshes inside the grace window) and
// recognise an older token of the chain (reuse) without ever storing a raw token.
struct RotatedPair {
  IssuedToken refresh;
  IssuedToken access;
};

// rotate derives the next pair from a refresh token's secret.
RotatedPair rotate(const RowId &session_id, const Secret &presented, const std::uint8_t *key, std::size_t key_size) noexcept;

// next_refresh_secret is the refresh secret that follows `secret` in a session's chain.
Secret next_refresh_secret(const Secret &secret, const std::uint8_t *key, std::size_t key_size) noexcept;

// ParsedToken is a token split into its parts.
struct ParsedToken {
  TokenKind kind;
  RowId row_id;
  Secret secret;
};

// token_parse splits `text` into its parts; it returns nothing for anything that is not a
// well-formed token (wrong length, unknown prefix, bad separators, bad alphabet, non-canonical
// base64url). It never throws and never reads past text.size().
std::optional<ParsedToken> token_parse(std::string_view text) noexcept;

// base64url_encode writes the unpadded base64url form of `size` bytes to `out`, which must have
// room for base64url_length(size) characters.
constexpr std::size_t base64url_length(std::size_t size) { return (size * 4 + 2) / 3; }
void base64url_encode(const std::uint8_t *data, std::size_t size, char *out) noexcept;

} // namespace authflow
