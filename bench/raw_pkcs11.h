// Shared by the signing benchmarks: a closed-loop rate meter, and the raw
// baseline (libp11 + EVP_DigestSign on the configured key, in this process).
// Only a benchmark may talk to libp11 directly; the agent's code keeps
// PKCS#11 inside pkcs11/.
#pragma once

#include <libp11.h>
#include <openssl/evp.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "agent/config/config.h"
#include "pkcs11/pkcs11.h"

namespace mpa::bench {

using Clock = std::chrono::steady_clock;

// Runs `work` on `threads` threads for `seconds`; returns operations/s.
template <class Work>
double rate(int threads, double seconds, Work work) {
  std::atomic<long> done{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> pool;
  const auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      long n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (!work()) {
          std::fprintf(stderr, "bench: an operation failed\n");
          std::exit(1);
        }
        ++n;
      }
      done += n;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& th : pool) th.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  return static_cast<double>(done.load()) / elapsed;
}

// The raw baseline: libp11 + EVP_DigestSign on the token's key.
struct RawKey {
  PKCS11_CTX* ctx = nullptr;
  PKCS11_SLOT* slots = nullptr;
  unsigned int nslots = 0;
  EVP_PKEY* pkey = nullptr;
};

inline bool open_raw(const mpa::Config& config, RawKey& raw) {
  auto uri = mpa::pkcs11::Pkcs11Uri::parse(config.clients.front().key);
  auto pin = mpa::pkcs11::read_pin_file(*config.pin_file);
  if (!uri || !pin || !uri->token || !uri->object) return false;
  raw.ctx = PKCS11_CTX_new();
  if (PKCS11_CTX_load(raw.ctx, config.module.c_str()) != 0) return false;
  if (PKCS11_enumerate_slots(raw.ctx, &raw.slots, &raw.nslots) != 0) return false;
  PKCS11_SLOT* slot = nullptr;
  for (unsigned i = 0; i < raw.nslots; ++i) {
    if (raw.slots[i].token && *uri->token == raw.slots[i].token->label) slot = &raw.slots[i];
  }
  if (slot == nullptr) return false;
  std::string pin_text(pin->data(), pin->size());
  if (PKCS11_login(slot, 0, pin_text.c_str()) != 0) return false;
  PKCS11_KEY* keys = nullptr;
  unsigned int nkeys = 0;
  if (PKCS11_enumerate_keys(slot->token, &keys, &nkeys) != 0) return false;
  for (unsigned i = 0; i < nkeys; ++i) {
    if (keys[i].isPrivate && keys[i].label && *uri->object == keys[i].label) {
      raw.pkey = PKCS11_get_private_key(&keys[i]);
    }
  }
  return raw.pkey != nullptr;
}

inline bool raw_sign(EVP_PKEY* pkey) {
  static const char kData[] = "eyJhbGciOiJSUzI1NiJ9.eyJzY29wZSI6ImFsdGlubjplbmR1c2VyIn0";
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned char sig[1024];
  size_t len = sizeof sig;
  const bool ok = EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, pkey) == 1 &&
                  EVP_DigestSign(ctx, sig, &len, reinterpret_cast<const unsigned char*>(kData),
                                 sizeof kData - 1) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

// Prints `title`'s table: the raw libp11 loop (`raw`) against `subject` at 1
// and 2 threads, in four alternating rounds so that drift and bursts of
// outside load hit baseline and subject alike; the rates are the rounds'
// means.
template <class Raw, class Subject>
void compare_with_raw(const char* title, double seconds, Raw raw, Subject subject) {
  std::printf("%-34s %12s %12s %8s\n", title, "raw libp11/s", "grants/s", "ratio");
  for (int threads : {1, 2}) {
    constexpr int kRounds = 4;
    double raw_rate = 0, subject_rate = 0;
    for (int round = 0; round < kRounds; ++round) {
      raw_rate += rate(threads, seconds / kRounds, raw) / kRounds;
      subject_rate += rate(threads, seconds / kRounds, subject) / kRounds;
    }
    std::printf("%-34s %12.0f %12.0f %7.1f%%\n",
                (std::to_string(threads) + (threads == 1 ? " thread" : " threads")).c_str(),
                raw_rate, subject_rate, 100.0 * subject_rate / raw_rate);
  }
}

}  // namespace mpa::bench
