// The certificates the agent trusts for one configuration's HTTPS: the
// system's (libcurl's default bundle and directory) plus a client's
// ca_file. Loaded once and handed to every TLS handshake made with it
// (CURLOPT_SSL_CTX_FUNCTION), instead of libcurl parsing the bundle again
// for each connection. Private to agent/http/.
#pragma once

#include <openssl/x509.h>

#include <memory>
#include <optional>
#include <string>

#include "common/openssl_handles.h"
#include "common/result.h"

namespace mpa {

class TrustStore {
 public:
  // Errors: invalid_config when ca_file cannot be read (named, with why).
  // A ca_file without any certificate adds nothing.
  static Result<std::shared_ptr<const TrustStore>> load(const std::optional<std::string>& ca_file);

  // Installs the store into a TLS context libcurl is about to use; the
  // signature of CURLOPT_SSL_CTX_FUNCTION with this store as its data.
  static int install(void* curl, void* ssl_ctx, void* store);

  X509_STORE* get() const { return store_.get(); }
  const std::optional<std::string>& ca_file() const { return ca_file_; }

 private:
  TrustStore(Handle<X509_STORE> store, std::optional<std::string> ca_file)
      : store_(std::move(store)), ca_file_(std::move(ca_file)) {}
  Handle<X509_STORE> store_;
  std::optional<std::string> ca_file_;
};

}  // namespace mpa
