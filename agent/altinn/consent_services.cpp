// The Services (or ServiceCodes) claim of an Altinn consent token:
// "CODE_EDITION[_key=value,...]" strings, merged into one entry per service.
#include <rapidjson/document.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/altinn/detail.h"
#include "common/text.h"

namespace mpa::altinn::detail {
namespace {

// A consent covers a handful of services; more is not Altinn's token.
constexpr std::size_t kMaxServices = 64;
constexpr std::size_t kMaxServiceEntryBytes = 256;
constexpr std::size_t kMaxCodeDigits = 10;
constexpr std::size_t kMaxMetadataKeyBytes = 64;

bool metadata_key_ok(std::string_view key) {
  if (key.empty() || key.size() > kMaxMetadataKeyBytes) return false;
  for (char c : key) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) {
      return false;
    }
  }
  return true;
}

// Control characters have no business in metadata; UTF-8 is already valid.
bool metadata_value_ok(std::string_view value) {
  for (char c : value) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return !value.empty();
}

// "CODE_EDITION" or "CODE_EDITION_key=value[,key=value...]"; Altinn has
// also used ',' where '_' stands, so either separates code, edition and
// metadata. Metadata values may hold '_' (e.g. "fraOgMed=2017_06").
Result<Service> parse_service(std::string_view entry) {
  const auto malformed = [&](const std::string& why) {
    return refuse("Services entry \"" + printable(entry, 64) +
                  "\" is not CODE_EDITION[_key=value]: " + why);
  };
  if (entry.size() > kMaxServiceEntryBytes) return malformed("too long");
  const auto is_separator = [](char c) { return c == '_' || c == ','; };
  std::size_t i = 0;
  while (i < entry.size() && !is_separator(entry[i])) ++i;
  Service service;
  service.code = entry.substr(0, i);
  if (!all_digits(service.code) || service.code.size() > kMaxCodeDigits) {
    return malformed("the service code is not digits");
  }
  if (i == entry.size()) return malformed("no edition");
  const std::size_t edition_start = ++i;
  while (i < entry.size() && !is_separator(entry[i])) ++i;
  service.edition = entry.substr(edition_start, i - edition_start);
  if (!all_digits(service.edition) || service.edition.size() > kMaxCodeDigits) {
    return malformed("the edition is not digits");
  }
  if (i == entry.size()) return service;
  std::string_view rest = entry.substr(i + 1);
  while (true) {
    const std::size_t comma = rest.find(',');
    const std::string_view pair = rest.substr(0, comma);
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos) return malformed("metadata without '='");
    const std::string key(pair.substr(0, eq)), value(pair.substr(eq + 1));
    if (!metadata_key_ok(key)) return malformed("metadata name is not letters and digits");
    if (!metadata_value_ok(value))
      return malformed("metadata value is empty or has control characters");
    service.metadata.emplace_back(key, value);
    if (comma == std::string_view::npos) return service;
    rest = rest.substr(comma + 1);
  }
}

// One list entry per (code, edition), in order of first appearance, with
// the metadata of every string for it: ["4629_2", "4629_2_inntektsaar=2016"]
// is one service with {"inntektsaar": "2016"}.
Status merge_service(std::vector<Service>& services, Service parsed) {
  for (auto& s : services) {
    if (s.code != parsed.code || s.edition != parsed.edition) continue;
    for (auto& [key, value] : parsed.metadata) {
      for (const auto& [k, v] : s.metadata) {
        if (k == key && v != value) {
          return refuse("Services gives " + s.code + "_" + s.edition + " two values for " + key);
        }
      }
      s.metadata.emplace_back(std::move(key), std::move(value));
    }
    return {};
  }
  services.push_back(std::move(parsed));
  return {};
}

Status add_services(const rapidjson::Value& value, const char* name, std::vector<Service>& out) {
  std::vector<const rapidjson::Value*> entries;
  if (value.IsString()) {
    entries.push_back(&value);
  } else if (value.IsArray() && !value.Empty() && value.Size() <= kMaxServices) {
    for (const auto& item : value.GetArray()) entries.push_back(&item);
  } else {
    return refuse(std::string(name) + " must be a string or a non-empty array of at most " +
                  std::to_string(kMaxServices) + " strings");
  }
  for (const auto* entry : entries) {
    if (!entry->IsString()) return refuse(std::string(name) + " holds something not a string");
    MPA_ASSIGN_OR_RETURN(Service service,
                         parse_service({entry->GetString(), entry->GetStringLength()}));
    MPA_RETURN_IF_ERROR(merge_service(out, std::move(service)));
  }
  return {};
}

// Altinn has called the claim both "Services" and "ServiceCodes".
}  // namespace

Result<std::vector<Service>> services_of(const rapidjson::Value& claims) {
  std::vector<Service> services;
  bool found = false;
  for (const char* name : {"Services", "ServiceCodes"}) {
    const auto it = claims.FindMember(name);
    if (it == claims.MemberEnd()) continue;
    found = true;
    if (auto added = add_services(it->value, name, services); !added) return added.error();
  }
  if (!found) return refuse("the token has neither a Services nor a ServiceCodes claim");
  return services;
}

rapidjson::Value services_json(const std::vector<Service>& services,
                               rapidjson::Document::AllocatorType& alloc) {
  rapidjson::Value list(rapidjson::kArrayType);
  for (const auto& s : services) {
    rapidjson::Value metadata(rapidjson::kObjectType);
    for (const auto& [key, value] : s.metadata) {
      metadata.AddMember(rapidjson::Value(key.c_str(), alloc),
                         rapidjson::Value(value.c_str(), alloc), alloc);
    }
    rapidjson::Value item(rapidjson::kObjectType);
    item.AddMember("code", rapidjson::Value(s.code.c_str(), alloc), alloc);
    item.AddMember("edition", rapidjson::Value(s.edition.c_str(), alloc), alloc);
    item.AddMember("metadata", metadata, alloc);
    list.PushBack(item, alloc);
  }
  return list;
}

}  // namespace mpa::altinn::detail
