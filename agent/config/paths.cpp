// Paths and URLs in the configuration: relative paths resolved against the
// file's directory, named files checked readable at load, endpoints
// checked to be https:// with a host.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>

#include "agent/config/sections.h"
#include "common/file_read.h"
#include "common/text.h"

namespace mpa::config_internal {

namespace fs = std::filesystem;

namespace {

// URLs longer than this are not Maskinporten's or Altinn's.
constexpr std::size_t kMaxUrlBytes = 2048;

// Files the configuration names (ca_file, chain_file, certificates) are
// public material, often symlinks into /etc/ssl/certs; checked, not read.
constexpr FileLimits kPublicFile{0, FileModeCheck::none, true};

// A module is often a symlink into the distribution's library directory.
constexpr FileLimits kModuleFile{0, FileModeCheck::only_we_may_change, true};

}  // namespace

std::string resolve(const Origin& origin, const std::string& path) {
  const fs::path p(path);
  if (p.is_absolute() || origin.directory.empty()) return p.lexically_normal().string();
  return (origin.directory / p).lexically_normal().string();
}

Status check_readable_file(const ConfigTable& section, std::string_view key,
                           const std::string& path) {
  const auto opened = open_regular_file(path, kPublicFile);
  if (opened) return {};
  const FileProblem& problem = opened.problem();
  if (problem.kind == FileProblem::Kind::cannot_open) {
    return section.error(key, "cannot read " + quoted(path, kMaxQuotedValueBytes) + ": " +
                                  errno_text(problem.error_number));
  }
  return section.error(key, quoted(path, kMaxQuotedValueBytes) + " is not a regular file");
}

Status check_module_file(const ConfigTable& section, std::string_view key, const std::string& path) {
  if (path.find('/') == std::string::npos) return {};
  const auto opened = open_regular_file(path, kModuleFile);
  if (opened) return {};
  const FileProblem& problem = opened.problem();
  if (problem.kind == FileProblem::Kind::writable_by_others) {
    return section.error(key, quoted(path, kMaxQuotedValueBytes) + " is writable by other users (mode " +
                                  mode_text(problem.mode) +
                                  "), who could put their code into the process that holds the PIN; "
                                  "chmod go-w it");
  }
  if (problem.kind == FileProblem::Kind::owned_by_another_user) {
    return section.error(key, quoted(path, kMaxQuotedValueBytes) + " belongs to uid " +
                                  std::to_string(problem.owner) +
                                  ", neither root nor the agent's own uid, who could put their code into "
                                  "the process that holds the PIN; chown it to root");
  }
  return {};
}

Status read_existing_file(const ConfigTable& section, const Origin& origin, std::string_view key,
                          std::optional<std::string>& out) {
  MPA_RETURN_IF_ERROR(section.read(key, out));
  if (!out) return {};
  out = resolve(origin, *out);
  return check_readable_file(section, key, *out);
}

// TLS is always used and always verified (DESIGN.md), so every endpoint is
// https:// with a host.
Status check_https_url(const ConfigTable& section, std::string_view key, const std::string& url) {
  constexpr std::string_view kScheme = "https://";
  if (url.size() > kMaxUrlBytes) {
    return section.error(key, "is longer than " + std::to_string(kMaxUrlBytes) + " bytes");
  }
  if (!starts_with_ignoring_case(url, kScheme)) {
    return section.error(key, quoted(url, kMaxQuotedValueBytes) +
                                  " is not an https:// URL; the agent always uses "
                                  "verified TLS (add trust with ca_file for tests)");
  }
  const std::string_view rest = std::string_view(url).substr(kScheme.size());
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.empty())
    return section.error(key, quoted(url, kMaxQuotedValueBytes) + " has no host");
  if (authority.find('@') != std::string_view::npos) {
    return section.error(key, "must not carry a user name or password");
  }
  if (std::any_of(url.begin(), url.end(), [](char c) { return c == ' '; })) {
    return section.error(key,
                         quoted(url, kMaxQuotedValueBytes) + " contains a space (write it as %20)");
  }
  if (url.find('#') != std::string::npos) {
    return section.error(
        key, quoted(url, kMaxQuotedValueBytes) + " has a #fragment, which an endpoint never has");
  }
  return {};
}

Status read_https_url(const ConfigTable& section, std::string_view key, std::string& out) {
  MPA_RETURN_IF_ERROR(section.read(key, out));
  if (!section.has(key)) return {};
  return check_https_url(section, key, out);
}

}  // namespace mpa::config_internal
