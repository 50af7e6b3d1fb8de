// fault_probe: a long-lived libp11 client for selftest.sh. It drives libp11
// (0.4.12 on Debian 12, the library the agent uses, the way the agent uses
// it) against a PKCS#11 module, reading one command per line on stdin and
// answering one line on stdout, so that the test can change the fault
// module's control files between the steps of one process, as happens to
// the agent. pkcs11-tool cannot do that: it makes one session and exits.
//
//   fault_probe MODULE
//
//   open LABEL     PKCS11_CTX_load MODULE, enumerate slots, pick the token LABEL
//   login PIN      PKCS11_login as the user
//   key ID         the private key whose CKA_ID is ID (hex)
//   sign           one RS256 signature with that key (EVP_DigestSign), checked
//                  against the key's public half
//   sign2          two such signatures at once, from two threads
//   present LABEL  enumerate the slots afresh: is the token LABEL there, and
//                  with which user PIN flags?
//   close          release the slots and unload the module
//
// Answers: "ok"; "absent", or "present" and the PIN flags set among
// count_low, final_try, locked ("present final_try"); or "error TEXT", where TEXT begins
// with the CKR name if libp11 reported one. End of input ends the program.

#include <libp11.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <p11-kit-1/p11-kit/pkcs11.h>

#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "parse.h"

namespace {

const std::string kData = "header.body";  // what a JWS signs, more or less

// The OpenSSL error queue as text, CKR names first, and the queue emptied.
std::string drain_errors() {
  std::string text;
  for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {
    std::string one;
    if (ERR_GET_LIB(e) == ERR_get_CKR_code()) {
      one = mpa_fault::ckr_name(static_cast<CK_RV>(ERR_GET_REASON(e)));
    } else {
      char buf[256];
      ERR_error_string_n(e, buf, sizeof buf);
      one = buf;
    }
    text += (text.empty() ? "" : "; ") + one;
  }
  return text.empty() ? "(no error reported)" : text;
}

std::string error(const std::string& what) { return "error " + drain_errors() + " (" + what + ")"; }

// The first slot of `slots` whose token has `label`, or nullptr.
PKCS11_SLOT* find_token(PKCS11_SLOT* slots, unsigned int count, const std::string& label) {
  for (unsigned int i = 0; i < count; ++i) {
    const PKCS11_TOKEN* token = slots[i].token;
    if (token != nullptr && token->label != nullptr && label == token->label) return &slots[i];
  }
  return nullptr;
}

// " count_low final_try locked", for the user PIN flags libp11 reports.
std::string pin_flag_words(const PKCS11_TOKEN& token) {
  std::string words;
  if (token.userPinCountLow) words += " count_low";
  if (token.userPinFinalTry) words += " final_try";
  if (token.userPinLocked) words += " locked";
  return words;
}

std::vector<unsigned char> from_hex(const std::string& hex) {
  std::vector<unsigned char> bytes;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes.push_back(static_cast<unsigned char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return bytes;
}

// One RS256 signature of kData with `key`, verified with the same key's
// public half (libp11 only routes the private operation to the token).
std::string sign_once(EVP_PKEY* key) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  const auto* in = reinterpret_cast<const unsigned char*>(kData.data());
  std::vector<unsigned char> sig(static_cast<std::size_t>(EVP_PKEY_get_size(key)));
  std::size_t len = sig.size();
  std::string answer = "ok";
  if (EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), nullptr, key) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1 ||
      EVP_DigestSign(ctx, sig.data(), &len, in, kData.size()) != 1) {
    answer = error("EVP_DigestSign");
  } else if (EVP_MD_CTX_reset(ctx) != 1 ||
             EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) != 1 ||
             EVP_DigestVerify(ctx, sig.data(), len, in, kData.size()) != 1) {
    answer = error("the signature does not verify");
  }
  EVP_MD_CTX_free(ctx);
  return answer;
}

class Probe {
 public:
  explicit Probe(std::string module) : module_(std::move(module)) {}
  ~Probe() { close(); }
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;

  std::string run(const std::string& command, const std::string& arg) {
    if (command == "open") return open(arg);
    if (command == "login") return login(arg);
    if (command == "key") return key(arg);
    if (command == "sign") return key_ ? sign_once(key_) : "error no key";
    if (command == "sign2") return sign2();
    if (command == "present") return present(arg);
    if (command == "close") return close();
    return "error unknown command " + command;
  }

 private:
  std::string open(const std::string& label) {
    close();
    ctx_ = PKCS11_CTX_new();
    if (PKCS11_CTX_load(ctx_, module_.c_str()) != 0) return error("PKCS11_CTX_load");
    loaded_ = true;
    if (PKCS11_enumerate_slots(ctx_, &slots_, &nslots_) != 0) return error("enumerate_slots");
    slot_ = find_token(slots_, nslots_, label);
    return slot_ != nullptr ? "ok" : "error no token " + label;
  }

  std::string login(const std::string& pin) {
    if (slot_ == nullptr) return "error not open";
    return PKCS11_login(slot_, 0, pin.c_str()) == 0 ? "ok" : error("PKCS11_login");
  }

  std::string key(const std::string& hex_id) {
    if (slot_ == nullptr) return "error not open";
    PKCS11_KEY* keys = nullptr;
    unsigned int count = 0;
    if (PKCS11_enumerate_keys(slot_->token, &keys, &count) != 0) return error("enumerate_keys");
    const std::vector<unsigned char> id = from_hex(hex_id);
    for (unsigned int i = 0; i < count; ++i) {
      if (std::vector<unsigned char>(keys[i].id, keys[i].id + keys[i].id_len) != id) continue;
      EVP_PKEY_free(key_);
      key_ = PKCS11_get_private_key(&keys[i]);
      return key_ != nullptr ? "ok" : error("get_private_key");
    }
    return "error no key with id " + hex_id;
  }

  std::string sign2() {
    if (key_ == nullptr) return "error no key";
    std::string first;
    std::string second;
    std::thread a([&] { first = sign_once(key_); });
    std::thread b([&] { second = sign_once(key_); });
    a.join();
    b.join();
    if (first != "ok") return first;
    return second;
  }

  // A fresh enumeration, as the agent makes when it looks for the token again
  // (libp11 reads CK_TOKEN_INFO only when it enumerates).
  std::string present(const std::string& label) {
    if (!loaded_) return "error not open";
    PKCS11_SLOT* slots = nullptr;
    unsigned int count = 0;
    if (PKCS11_enumerate_slots(ctx_, &slots, &count) != 0) return error("enumerate_slots");
    const PKCS11_SLOT* slot = find_token(slots, count, label);
    const std::string answer = slot != nullptr ? "present" + pin_flag_words(*slot->token) : "absent";
    PKCS11_release_all_slots(ctx_, slots, count);
    return answer;
  }

  std::string close() {
    EVP_PKEY_free(key_);
    key_ = nullptr;
    if (slots_ != nullptr) PKCS11_release_all_slots(ctx_, slots_, nslots_);
    slots_ = nullptr;
    nslots_ = 0;
    slot_ = nullptr;
    if (loaded_) PKCS11_CTX_unload(ctx_);
    loaded_ = false;
    if (ctx_ != nullptr) PKCS11_CTX_free(ctx_);
    ctx_ = nullptr;
    return "ok";
  }

  std::string module_;
  PKCS11_CTX* ctx_ = nullptr;
  bool loaded_ = false;
  PKCS11_SLOT* slots_ = nullptr;
  unsigned int nslots_ = 0;
  PKCS11_SLOT* slot_ = nullptr;
  EVP_PKEY* key_ = nullptr;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fault_probe MODULE < commands\n");
    return 2;
  }
  Probe probe(argv[1]);
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream words(line);
    std::string command;
    std::string arg;
    words >> command;
    std::getline(words >> std::ws, arg);  // the rest: a label may hold spaces
    std::cout << probe.run(command, arg) << std::endl;  // flushed: the test waits for it
  }
  return 0;
}
