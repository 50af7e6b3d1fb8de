// One owner for C library handles (OpenSSL, libcurl, libp11), in the
// manner of Tink's SslUniquePtr: a Deleter<T> specialisation per handle
// type, declared once with MPA_HANDLE_DELETER beside the library's header,
// and one alias, Handle<T>.
//
//   MPA_HANDLE_DELETER(X509, X509_free);
//   Handle<X509> cert(PEM_read_bio_X509(...));
#pragma once

#include <memory>

namespace mpa {

template <class T>
struct Deleter;

template <class T>
using Handle = std::unique_ptr<T, Deleter<T>>;

}  // namespace mpa

// Declares Deleter<TYPE>, calling FREE on a non-null handle. Use at global
// scope. The free functions used here never fail in a way a caller could act
// on, so the deleter is noexcept.
#define MPA_HANDLE_DELETER(TYPE, FREE)                          \
  template <>                                                   \
  struct mpa::Deleter<TYPE> {                                   \
    void operator()(TYPE* p) const noexcept { FREE(p); }        \
  }
