// Secrets (PINs) live in SecretBytes: a vector whose memory is wiped with
// OPENSSL_cleanse before it is freed. A vector, not a string, because a
// short std::string keeps its bytes inside the object (SSO), where no
// allocator can wipe them.
#pragma once

#include <openssl/crypto.h>

#include <cstddef>
#include <new>
#include <string_view>
#include <vector>

namespace mpa {

template <class T>
struct ZeroingAllocator {
  using value_type = T;
  ZeroingAllocator() noexcept = default;
  template <class U>
  ZeroingAllocator(const ZeroingAllocator<U>&) noexcept {}  // NOLINT implicit

  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept {
    OPENSSL_cleanse(p, n * sizeof(T));
    ::operator delete(p);
  }
  template <class U>
  bool operator==(const ZeroingAllocator<U>&) const noexcept { return true; }
};

using SecretBytes = std::vector<char, ZeroingAllocator<char>>;

inline std::string_view view(const SecretBytes& s) { return {s.data(), s.size()}; }

}  // namespace mpa
