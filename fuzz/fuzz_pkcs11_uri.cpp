// RFC 7512 URI parser on arbitrary input: errors are expected, crashes and
// sanitizer reports are not. A parsed URI must not carry a PIN.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "pkcs11/pkcs11.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto uri = mpa::pkcs11::Pkcs11Uri::parse(input);
  if (uri.ok()) {
    if (uri->token && uri->token->empty()) std::abort();  // empty values are refused
    if (input.find("pin-value") != std::string_view::npos &&
        input.find('?') != std::string_view::npos)
      std::abort();  // a query part is always refused
  } else if (uri.error().message.empty()) {
    std::abort();  // every refusal says why
  }
  return 0;
}
