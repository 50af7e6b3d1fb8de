// `maskinporten-agent status`: the agent's status answer as lines for a
// person (DESIGN.md "Command line").
#include <string>

#include "agent/cli/client_commands.h"
#include "common/clock.h"

namespace mpa::cli {
namespace {

// A certificate closer than this to its end gets a warning in `status`.
constexpr std::int64_t kCertificateWarningDays = 30;
constexpr std::int64_t kSecondsPerDay = 86400;

std::string number_or_unknown(const std::optional<std::int64_t>& value) {
  return value ? std::to_string(*value) : std::string("?");
}

std::string duration_words(std::int64_t seconds) {
  const std::int64_t days = seconds / kSecondsPerDay;
  const std::int64_t hours = seconds % kSecondsPerDay / 3600;
  const std::int64_t minutes = seconds % 3600 / 60;
  if (days > 0) return std::to_string(days) + " d " + std::to_string(hours) + " h";
  if (hours > 0) return std::to_string(hours) + " h " + std::to_string(minutes) + " min";
  if (minutes > 0) return std::to_string(minutes) + " min";
  return std::to_string(seconds) + " s";
}

std::string token_line(const protocol::ClientStatus& client) {
  std::string line = "  token: ";
  if (!client.token_present) return line + "unknown\n";
  if (!*client.token_present) return line + "NOT PRESENT (removed, or the module cannot see it)\n";
  line += "present";
  if (client.logged_in) line += *client.logged_in ? ", logged in" : ", NOT logged in";
  if (!client.token_label.empty()) line += " (\"" + client.token_label + "\")";
  return line + "\n";
}

std::string certificate_line(const protocol::ClientStatus& client, std::int64_t now) {
  std::string line = "  certificate: " + client.certificate_subject.value_or("unknown");
  if (!client.certificate_not_after) return line + "\n";
  const std::int64_t not_after = *client.certificate_not_after;
  const std::int64_t days = (not_after - now) / kSecondsPerDay;
  if (not_after <= now) return line + ", EXPIRED on " + format_utc(not_after, UtcFormat::date) + "\n";
  line += ", valid until " + format_utc(not_after, UtcFormat::date) + " (" + std::to_string(days) + " day" +
          (days == 1 ? "" : "s");
  if (days < kCertificateWarningDays) line += "; renew it soon";
  return line + ")\n";
}

// "none"; the error with when it happened; or, once an exchange succeeded
// after it, the same marked as past.
std::string last_error_line(const protocol::ClientStatus& client, std::int64_t now) {
  if (client.last_error.empty()) return "  last error: none\n";
  std::string line = client.last_error_past.value_or(false)
                         ? "  last error (past: an exchange succeeded since): "
                         : "  last error: ";
  line += client.last_error;
  if (client.last_error_at) {
    const std::int64_t ago = now > *client.last_error_at ? now - *client.last_error_at : 0;
    line += " (at " + format_utc(*client.last_error_at, UtcFormat::readable) + ", " +
            duration_words(ago) + " ago)";
  }
  return line + "\n";
}

std::string client_lines(const protocol::ClientStatus& client, std::int64_t now) {
  std::string lines = "client \"" + client.name.value_or("?") + "\"";
  if (!client.client_id.empty()) lines += " (client id " + client.client_id + ")";
  // Appended piece by piece: GCC 12 warns (-Wrestrict, a false positive)
  // on "literal" + std::string&& at -O3.
  lines += '\n';
  lines += token_line(client);
  lines += certificate_line(client, now);
  lines += last_error_line(client, now);
  return lines;
}

std::string cache_line(const protocol::CacheStatus& cache) {
  std::string line = "cache: " + number_or_unknown(cache.entries) + " entries, " +
                     number_or_unknown(cache.in_flight) + " in flight; " +
                     number_or_unknown(cache.hits) + " hits, " + number_or_unknown(cache.misses) +
                     " misses, " + number_or_unknown(cache.exchanges) + " exchanges with Maskinporten";
  if (cache.held && *cache.held > 0) {
    line += "; " + std::to_string(*cache.held) + " misses answered with a recent failure";
  }
  return line + "\n";
}

std::string workers_line(const protocol::WorkerStatus& workers) {
  return "exchanges: " + number_or_unknown(workers.exchanging) + " of " +
         number_or_unknown(workers.size) + " in flight, " + number_or_unknown(workers.waiting) +
         " waiting for a slot\n";
}

std::string signing_line(const protocol::SigningStatus& queue) {
  std::string line = "signing " + queue.token + ": " + number_or_unknown(queue.signing) + " of " +
                     number_or_unknown(queue.threads) + " signing, " +
                     number_or_unknown(queue.queued) + " queued";
  if (queue.queued.value_or(0) > 0 && queue.oldest_wait_ms) {
    line += " (oldest " + std::to_string(*queue.oldest_wait_ms) + " ms)";
  }
  return line + "\n";
}

}  // namespace

std::string render_status(const protocol::StatusResponse& status, std::int64_t now) {
  std::string text = "agent " + status.version.value_or("(version unknown)");
  if (status.uptime_seconds) text += ", up " + duration_words(*status.uptime_seconds);
  text += "\n";
  if (status.clients) {
    if (status.clients->empty()) text += "no clients configured\n";
    for (const protocol::ClientStatus& client : *status.clients) text += client_lines(client, now);
  }
  if (status.cache) text += cache_line(*status.cache);
  if (status.workers) text += workers_line(*status.workers);
  if (status.signing) {
    for (const protocol::SigningStatus& queue : *status.signing) text += signing_line(queue);
  }
  return text;
}

}  // namespace mpa::cli
