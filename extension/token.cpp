// token.cpp: generation and parsing of authflow tokens (format in token.hpp).
#include "token.hpp"

#include <chrono>
#include <cstring>

namespace authflow {
namespace {

constexpr char kBase64UrlAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr char kHexDigits[] = "0123456789abcdef";

struct KindInfo {
  TokenKind kind;
  std::string_view name;
  std::string_view prefix;
};
constexpr KindInfo kKinds[] = {
    {TokenKind::access, "access", "afa"},   {TokenKind::refresh, "refresh", "afr"},
    {TokenKind::polling, "polling", "afp"}, {TokenKind::login, "login", "afl"},
    {TokenKind::key, "key", "afk"},         {TokenKind::device, "device", "afd"},
};
static_assert(sizeof kKinds / sizeof kKinds[0] == sizeof kTokenKinds / sizeof kTokenKinds[0],
              "every kind has a name and a prefix");

// Base64UrlValue is the 6-bit value of a base64url character, or -1.
int Base64UrlValue(char c) noexcept {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '-')
    return 62;
  if (c == '_')
    return 63;
  return -1;
}

// HexValue is the value of a lowercase hex digit, or -1 (tokens use lowercase only).
int HexValue(char c) noexcept {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

// DecodeSecret decodes exactly kSecretLength base64url characters into 32 bytes. The last
// character carries 2 unused bits, which must be zero, so that each secret has one spelling.
bool DecodeSecret(const char *in, Secret &out) noexcept {
  std::uint32_t buffer = 0;
  int bits = 0;
  std::size_t written = 0;
  for (std::size_t i = 0; i < kSecretLength; ++i) {
    const int value = Base64UrlValue(in[i]);
    if (value < 0)
      return false;
    buffer = (buffer << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[written++] = static_cast<std::uint8_t>(buffer >> bits);
      buffer &= (1u << bits) - 1;
    }
  }
  return written == kSecretSize && buffer == 0;
}

} // namespace

std::optional<TokenKind> token_kind_from_name(std::string_view name) noexcept {
  for (const auto &info : kKinds) {
    if (info.name == name)
      return info.kind;
  }
  return std::nullopt;
}

std::string_view token_kind_name(TokenKind kind) noexcept { return kKinds[static_cast<int>(kind)].name; }

std::string_view token_prefix(TokenKind kind) noexcept { return kKinds[static_cast<int>(kind)].prefix; }

void base64url_encode(const std::uint8_t *data, std::size_t size, char *out) noexcept {
  std::uint32_t buffer = 0;
  int bits = 0;
  for (std::size_t i = 0; i < size; ++i) {
    buffer = (buffer << 8) | data[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      *out++ = kBase64UrlAlphabet[(buffer >> bits) & 0x3f];
    }
  }
  if (bits > 0)
    *out++ = kBase64UrlAlphabet[(buffer << (6 - bits)) & 0x3f];
}

RowId random_row_id() {
  RowId id;
  random_bytes(id.data(), id.size());
  id[6] = static_cast<std::uint8_t>((id[6] & 0x0f) | 0x40); // version 4
  id[8] = static_cast<std::uint8_t>((id[8] & 0x3f) | 0x80); // RFC 4122 variant
  return id;
}

RowId time_ordered_row_id() {
  RowId id;
  random_bytes(id.data(), id.size());
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto milliseconds = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
  for (int i = 0; i < 6; ++i) id[i] = static_cast<std::uint8_t>(milliseconds >> (8 * (5 - i)));
  id[6] = static_cast<std::uint8_t>((id[6] & 0x0f) | 0x70);  // version 7
  id[8] = static_cast<std::uint8_t>((id[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return id;
}

IssuedToken token_issue(TokenKind kind, const RowId &row_id) {
  Secret secret;
  random_bytes(secret.data(), secret.size());
  return token_from_secret(kind, row_id, secret);
}

IssuedToken token_from_secret(TokenKind kind, const RowId &row_id, const Secret &secret) noexcept {
  IssuedToken issued;
  char *out = issued.text.data();
  const std::string_view prefix = token_prefix(kind);
  std::memcpy(out, prefix.data(), kPrefixLength);
  out += kPrefixLength;
  *out++ = '_';
  for (const std::uint8_t byte : row_id) {
    *out++ = kHexDigits[byte >> 4];
    *out++ = kHexDigits[byte & 0x0f];
  }
  *out++ = '_';
  base64url_encode(secret.data(), secret.size(), out);
  issued.secret_hash = sha256(secret.data(), secret.size());
  return issued;
}

std::optional<ParsedToken> token_parse(std::string_view text) noexcept {
  if (text.size() != kTokenLength)
    return std::nullopt;
  const std::size_t row_start = kPrefixLength + 1;
  const std::size_t secret_start = row_start + kRowIdLength + 1;
  if (text[kPrefixLength] != '_' || text[secret_start - 1] != '_')
    return std::nullopt;

  ParsedToken parsed{};
  bool known = false;
  for (const auto &info : kKinds) {
    if (text.substr(0, kPrefixLength) == info.prefix) {
      parsed.kind = info.kind;
      known = true;
    }
  }
  if (!known)
    return std::nullopt;

  for (std::size_t i = 0; i < kRowIdSize; ++i) {
    const int high = HexValue(text[row_start + 2 * i]);
    const int low = HexValue(text[row_start + 2 * i + 1]);
    if (high < 0 || low < 0)
      return std::nullopt;
    parsed.row_id[i] = static_cast<std::uint8_t>((high << 4) | low);
  }
  if (!DecodeSecret(text.data() + secret_start, parsed.secret))
    return std::nullopt;
  return parsed;
}

const char *token_kind_list() noexcept {
  static char list[64] = {};
  if (list[0] == '\0') {
    std::size_t used = 0;
    for (const KindInfo &info : kKinds) {
      if (used > 0) {
        std::memcpy(list + used, ", ", 2);
        used += 2;
      }
      std::memcpy(list + used, info.name.data(), info.name.size());
      used += info.name.size();
    }
  }
  return list;
}

namespace {

// Derived is HMAC-SHA-256 under `key` of one label byte and a secret: labels keep the refresh
// and access secrets of one step apart.
static_assert(kSecretSize == kSha256Size, "a derived secret is one HMAC-SHA-256");
Secret Derived(std::uint8_t label, const Secret &secret, const std::uint8_t *key, std::size_t key_size) noexcept {
  std::uint8_t input[1 + kSecretSize];
  input[0] = label;
  std::memcpy(input + 1, secret.data(), kSecretSize);
  const Sha256Digest digest = hmac_sha256(key, key_size, input, sizeof input);
  Secret out;
  std::memcpy(out.data(), digest.data(), kSecretSize);
  return out;
}

} // namespace

Secret next_refresh_secret(const Secret &secret, const std::uint8_t *key, std::size_t key_size) noexcept {
  return Derived('r', secret, key, key_size);
}

RotatedPair rotate(const RowId &session_id, const Secret &presented, const std::uint8_t *key,
                   std::size_t key_size) noexcept {
  return {token_from_secret(TokenKind::refresh, session_id, next_refresh_secret(presented, key, key_size)),
          token_from_secret(TokenKind::access, session_id, Derived('a', presented, key, key_size))};
}

} // namespace authflow
