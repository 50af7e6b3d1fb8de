// Pieces the Altinn verifier and exchange share (agent/altinn/ only).
#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/verify/jws.h"
#include "common/result.h"

namespace mpa::altinn::detail {

// The strict parse and the refusal every token verifier shares.
using verify::parse_strict_object;
using verify::refuse;

// One service of the Services claim: "4629_2_inntektsaar=2016" is code
// 4629, edition 2, metadata {inntektsaar: 2016}.
struct Service {
  std::string code;
  std::string edition;
  std::vector<std::pair<std::string, std::string>> metadata;
};

// The services of the "Services" and/or "ServiceCodes" claims, merged.
// Errors: invalid_token, quoting the bad entry.
Result<std::vector<Service>> services_of(const rapidjson::Value& claims);
// The services as the JSON array verify() adds as "services".
rapidjson::Value services_json(const std::vector<Service>& services,
                               rapidjson::Document::AllocatorType& alloc);

}  // namespace mpa::altinn::detail
