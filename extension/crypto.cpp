// crypto.cpp: thin wrappers over OpenSSL, so the rest of the core never sees its API.
#include "crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <climits>

#include "error.hpp"

namespace authflow {

Sha256Digest sha256(const void *data, std::size_t size) noexcept {
  Sha256Digest digest;
  SHA256(static_cast<const unsigned char *>(data), size, digest.data());
  return digest;
}

Sha256Digest hmac_sha256(const void *key, std::size_t key_size, const void *data, std::size_t size) noexcept {
  Sha256Digest digest;
  unsigned int length = 0;
  HMAC(EVP_sha256(), key, static_cast<int>(key_size), static_cast<const unsigned char *>(data), size, digest.data(),
       &length);
  return digest;
}

bool secure_equal(const void *a, std::size_t a_size, const void *b, std::size_t b_size) noexcept {
  if (a_size != b_size)
    return false;
  return CRYPTO_memcmp(a, b, a_size) == 0;
}

void random_bytes(std::uint8_t *out, std::size_t size) {
  if (size > static_cast<std::size_t>(INT_MAX) || RAND_bytes(out, static_cast<int>(size)) != 1) {
    throw Error(kSystemError, "the OpenSSL random number generator failed");
  }
}

} // namespace authflow
