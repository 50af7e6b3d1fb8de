#include "agent/cache/token_target.h"

#include <algorithm>
#include <string_view>
#include <vector>

namespace mpa {
namespace {

// The key:
// Every value is written as <length>:<bytes>, lists as <count>* then their
// values, an absent optional as '-' and a present one as '+' then its value,
// in a fixed field order. Each part thus ends where its own header says, so
// no two different requests can give the same string, whatever bytes the
// values hold. The one-letter tags only make keys readable in a debugger.

void append_value(std::string& key, std::string_view value) {
  key += std::to_string(value.size());
  key += ':';
  key += value;
}

void append_field(std::string& key, char tag, std::string_view value) {
  key += tag;
  append_value(key, value);
}

template <class Strings>
void append_list(std::string& key, char tag, const Strings& values) {
  key += tag;
  key += std::to_string(values.size());
  key += '*';
  for (const auto& value : values) append_value(key, value);
}

void append_optional(std::string& key, char tag, const std::optional<std::string>& value) {
  key += tag;
  if (!value) {
    key += '-';
    return;
  }
  key += '+';
  append_value(key, *value);
}

// Scopes are a set (Maskinporten reads the grant's space-separated `scope`
// as one): sorted, each once.
std::vector<std::string_view> scope_set(const std::vector<std::string>& scopes) {
  std::vector<std::string_view> set(scopes.begin(), scopes.end());
  std::sort(set.begin(), set.end());
  set.erase(std::unique(set.begin(), set.end()), set.end());
  return set;
}

}  // namespace

std::string cache_key(const TokenTarget& target) {
  std::string key;
  append_field(key, 'c', target.client);
  append_list(key, 's', scope_set(target.grant.scopes));
  append_list(key, 'r', target.grant.resource);
  append_optional(key, 'o', target.grant.consumer_org);
  append_optional(key, 'b', target.grant.iss_onbehalfof);
  append_optional(key, 'p', target.grant.pid);
  append_optional(key, 'a', target.grant.authorization_details);
  append_optional(key, 'x', target.exchange);
  return key;
}

TokenTarget normalised(const TokenTarget& target) {
  TokenTarget copy = target;
  const std::vector<std::string_view> set = scope_set(target.grant.scopes);
  copy.grant.scopes.assign(set.begin(), set.end());
  return copy;
}

}  // namespace mpa
