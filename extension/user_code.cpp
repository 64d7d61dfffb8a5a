// user_code.cpp: generation and normalisation of device-grant user codes (user_code.hpp).
#include "user_code.hpp"

#include "crypto.hpp"

namespace authflow {
namespace {

// kUniformBelow is the largest multiple of the alphabet's size a byte can hold: bytes at or
// above it are drawn again, so that byte % 20 is uniform.
constexpr unsigned kUniformBelow = 256 - 256 % kUserCodeAlphabet.size();

bool InAlphabet(char c) noexcept { return kUserCodeAlphabet.find(c) != std::string_view::npos; }

} // namespace

UserCode user_code_generate() {
  UserCode code;
  std::size_t filled = 0;
  while (filled < code.size()) {
    std::uint8_t bytes[16];
    random_bytes(bytes, sizeof bytes);
    for (const std::uint8_t byte : bytes) {
      if (byte < kUniformBelow && filled < code.size())
        code[filled++] = kUserCodeAlphabet[byte % kUserCodeAlphabet.size()];
    }
  }
  return code;
}

std::array<char, kUserCodeShownLength> user_code_shown(const UserCode &code) noexcept {
  std::array<char, kUserCodeShownLength> shown;
  for (std::size_t i = 0, out = 0; i < code.size(); ++i) {
    if (i == code.size() / 2)
      shown[out++] = '-';
    shown[out++] = code[i];
  }
  return shown;
}

std::optional<UserCode> user_code_normalize(std::string_view input) noexcept {
  UserCode code;
  std::size_t filled = 0;
  for (const char raw : input) {
    if (raw == '-' || raw == ' ' || raw == '\t' || raw == '\n' || raw == '\r')
      continue;
    const char c = (raw >= 'a' && raw <= 'z') ? static_cast<char>(raw - 'a' + 'A') : raw;
    if (!InAlphabet(c) || filled == code.size())
      return std::nullopt;
    code[filled++] = c;
  }
  if (filled != code.size())
    return std::nullopt;
  return code;
}

} // namespace authflow
