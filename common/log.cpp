#include "common/log.h"

#include <openssl/sha.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>

#include "common/clock.h"

namespace mpa::log {
namespace {

std::atomic<bool> g_verbose{false};
std::mutex g_mutex;

const char* level_word(Level level) {
  switch (level) {
    case Level::error: return "error";
    case Level::warning: return "warning";
    case Level::info: return "info";
    case Level::debug: return "debug";
  }
  return "info";
}

bool under_journald() { return std::getenv("JOURNAL_STREAM") != nullptr; }

}  // namespace

void set_verbose(bool verbose) { g_verbose = verbose; }

void write(Level level, std::string_view message) {
  if (level == Level::debug && !g_verbose) return;
  static const bool journald = under_journald();
  std::lock_guard lock(g_mutex);
  if (journald) {
    std::fprintf(stderr, "<%d>%.*s\n", static_cast<int>(level), static_cast<int>(message.size()),
                 message.data());
  } else {
    const std::string stamp = format_utc(epoch_seconds_now());
    std::fprintf(stderr, "%s maskinporten-agent %s: %.*s\n", stamp.c_str(), level_word(level),
                 static_cast<int>(message.size()), message.data());
  }
  std::fflush(stderr);
}

std::string token_ref(std::string_view token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
  char out[8 + 8 + 1];
  std::snprintf(out, sizeof out, "sha256:%02x%02x%02x%02x", digest[0], digest[1], digest[2],
                digest[3]);
  return out;
}

}  // namespace mpa::log
