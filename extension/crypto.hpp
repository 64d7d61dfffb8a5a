// crypto.hpp: SHA-256, constant-time comparison and the CSPRNG, all from OpenSSL.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace authflow {

inline constexpr std::size_t kSha256Size = 32;
using Sha256Digest = std::array<std::uint8_t, kSha256Size>;

// sha256 hashes `size` bytes at `data` (OpenSSL's one-shot SHA256).
Sha256Digest sha256(const void *data, std::size_t size) noexcept;

// hmac_sha256 is HMAC-SHA-256 of `size` bytes at `data` under `key` (RFC 2104 over SHA-256).
Sha256Digest hmac_sha256(const void *key, std::size_t key_size, const void *data, std::size_t size) noexcept;

// secure_equal compares two byte strings; for equal lengths it takes the same time whatever
// the contents (CRYPTO_memcmp). Different lengths compare unequal at once.
bool secure_equal(const void *a, std::size_t a_size, const void *b, std::size_t b_size) noexcept;

// random_bytes fills `out` from OpenSSL's CSPRNG; throws authflow::Error when it cannot.
void random_bytes(std::uint8_t *out, std::size_t size);

} // namespace authflow
