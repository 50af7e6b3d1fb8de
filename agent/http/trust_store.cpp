#include "agent/http/trust_store.h"

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "common/file_read.h"
#include "common/text.h"

namespace mpa {
namespace {

// A PEM bundle of extra trust anchors; real ones are a few KiB.
constexpr std::size_t kMaxCaFileBytes = 1024 * 1024;

// CA bundles are public material and often symlinks (/etc/ssl/certs).
Result<std::string> read_ca_file(const std::string& path) {
  auto read = read_file(path, {kMaxCaFileBytes, FileModeCheck::none, true});
  if (read) return std::move(read.bytes());
  const FileProblem& problem = read.problem();
  if (problem.kind == FileProblem::Kind::too_large) {
    return make_error(ErrorCode::invalid_config, "ca_file " + path + " is larger than " +
                                                     std::to_string(kMaxCaFileBytes / 1024) + " KiB");
  }
  const std::string why = problem.kind == FileProblem::Kind::not_regular_file
                              ? std::string("not a regular file")
                              : errno_text(problem.error_number);
  return make_error(ErrorCode::invalid_config, "cannot read ca_file " + path + ": " + why);
}

// Every certificate of a PEM text; anything else in it is ignored, as
// libcurl's CAINFO does.
Status add_pem_certificates(X509_STORE* store, const std::string& pem) {
  Handle<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return make_error(ErrorCode::internal, "BIO_new_mem_buf failed (out of memory?)");
  STACK_OF(X509_INFO)* infos = PEM_X509_INFO_read_bio(bio.get(), nullptr, nullptr, nullptr);
  ERR_clear_error();
  if (infos == nullptr) return {};  // no PEM at all: trusts nothing new
  for (int i = 0; i < sk_X509_INFO_num(infos); ++i) {
    X509_INFO* info = sk_X509_INFO_value(infos, i);
    if (info->x509 != nullptr) X509_STORE_add_cert(store, info->x509);  // duplicates are fine
  }
  sk_X509_INFO_pop_free(infos, X509_INFO_free);
  ERR_clear_error();
  return {};
}

// libcurl's defaults for this build (Debian: /etc/ssl/certs/ca-certificates.crt
// and /etc/ssl/certs). A missing system bundle only narrows trust.
void add_system_trust(X509_STORE* store) {
  const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
  if (info->age >= CURLVERSION_SEVENTH) {
    if (info->cainfo != nullptr) X509_STORE_load_file(store, info->cainfo);
    if (info->capath != nullptr) X509_STORE_load_path(store, info->capath);
  }
  ERR_clear_error();
}

}  // namespace

Result<std::shared_ptr<const TrustStore>> TrustStore::load(
    const std::optional<std::string>& ca_file) {
  Handle<X509_STORE> store(X509_STORE_new());
  if (!store) return make_error(ErrorCode::internal, "X509_STORE_new failed (out of memory?)");
  // As libcurl sets on its own stores: an intermediate CA named in
  // ca_file is a trust anchor too.
  X509_STORE_set_flags(store.get(), X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_TRUSTED_FIRST);
  add_system_trust(store.get());
  if (ca_file) {
    MPA_ASSIGN_OR_RETURN(const std::string pem, read_ca_file(*ca_file));
    MPA_RETURN_IF_ERROR(add_pem_certificates(store.get(), pem));
  }
  return std::shared_ptr<const TrustStore>(new TrustStore(std::move(store), ca_file));
}

int TrustStore::install(void* /*curl*/, void* ssl_ctx, void* store) {
  auto* ctx = static_cast<SSL_CTX*>(ssl_ctx);
  auto* trust = static_cast<X509_STORE*>(store);
  if (X509_STORE_up_ref(trust) != 1) return CURLE_OUT_OF_MEMORY;
  SSL_CTX_set_cert_store(ctx, trust);  // takes the reference; frees libcurl's empty store
  return CURLE_OK;
}

}  // namespace mpa
