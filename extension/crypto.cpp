// crypto.cpp: thin wrappers over OpenSSL, so the rest of the core never sees its API.
#include "crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <climits>
#include <cstring>
#include <memory>
#include <new>

#include "error.hpp"

namespace authflow {

// OpenSSL 3's one-shot SHA256() fetches the algorithm on every call (about 10,000 instructions,
// several times the hash of a token's secret): the algorithm is fetched once, and each thread
// keeps one digest context.
Sha256Digest sha256(const void *data, std::size_t size) noexcept {
  static EVP_MD *const algorithm = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  thread_local std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  Sha256Digest digest;
  unsigned int length = 0;
  if (algorithm == nullptr || context == nullptr || EVP_DigestInit_ex2(context.get(), algorithm, nullptr) != 1 ||
      EVP_DigestUpdate(context.get(), data, size) != 1 || EVP_DigestFinal_ex(context.get(), digest.data(), &length) != 1)
    SHA256(static_cast<const unsigned char *>(data), size, digest.data());  // the slow path, never expected
  return digest;
}

// HMAC as RFC 2104 defines it, over the one-shot SHA256(): OpenSSL 3's HMAC() fetches its
// algorithm on every call, which cost a refresh a tenth of its instructions. A key longer than a
// block is hashed first; messages here are a few dozen bytes (tests check RFC 4231's vectors).
Sha256Digest hmac_sha256(const void *key, std::size_t key_size, const void *data, std::size_t size) noexcept {
  constexpr std::size_t kBlock = 64;
  std::uint8_t padded_key[kBlock] = {};
  if (key_size > kBlock) {
    const Sha256Digest hashed = sha256(key, key_size);
    std::memcpy(padded_key, hashed.data(), hashed.size());
  } else if (key_size > 0) {
    std::memcpy(padded_key, key, key_size);
  }
  constexpr std::size_t kInline = 256;
  std::uint8_t inline_buffer[kBlock + kInline];
  std::unique_ptr<std::uint8_t[]> heap_buffer;
  std::uint8_t *inner = inline_buffer;
  if (size > kInline) {
    heap_buffer.reset(new (std::nothrow) std::uint8_t[kBlock + size]);
    if (!heap_buffer) {
      // Out of memory: fall back to OpenSSL's own HMAC, which needs no buffer of ours.
      Sha256Digest digest;
      unsigned int length = 0;
      HMAC(EVP_sha256(), key, static_cast<int>(key_size), static_cast<const unsigned char *>(data), size,
           digest.data(), &length);
      return digest;
    }
    inner = heap_buffer.get();
  }
  for (std::size_t i = 0; i < kBlock; ++i)
    inner[i] = padded_key[i] ^ 0x36;
  if (size > 0)
    std::memcpy(inner + kBlock, data, size);
  const Sha256Digest inner_digest = sha256(inner, kBlock + size);
  std::uint8_t outer[kBlock + kSha256Size];
  for (std::size_t i = 0; i < kBlock; ++i)
    outer[i] = padded_key[i] ^ 0x5c;
  std::memcpy(outer + kBlock, inner_digest.data(), inner_digest.size());
  const Sha256Digest digest = sha256(outer, sizeof outer);
  OPENSSL_cleanse(padded_key, sizeof padded_key);
  OPENSSL_cleanse(inner, kBlock);
  OPENSSL_cleanse(outer, kBlock);
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
