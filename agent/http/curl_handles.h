// One Deleter per libcurl handle type the agent owns, and one unique_ptr
// alias (the shape of pkcs11/handles.h). Private to agent/http/http.cpp.
#pragma once

#include <curl/curl.h>

#include <memory>

namespace mpa::curl {

template <class T>
struct Deleter;

template <>
struct Deleter<CURL> {
  void operator()(CURL* p) const noexcept { curl_easy_cleanup(p); }
};
template <>
struct Deleter<curl_slist> {
  void operator()(curl_slist* p) const noexcept { curl_slist_free_all(p); }
};

template <class T>
using UniquePtr = std::unique_ptr<T, Deleter<T>>;

}  // namespace mpa::curl
