// Pieces the Altinn verifier, claim checks and exchange share.
#include "agent/altinn/detail.h"

#include "common/json_text.h"

namespace mpa::altinn::detail {

Result<rapidjson::Document> parse_strict_object(std::string_view json, std::string_view what) {
  rapidjson::Document doc;
  if (const auto problem = mpa::json::parse_strict_json(doc, json)) {
    switch (problem->kind) {
      case mpa::json::JsonProblem::Kind::too_deep:
        return refuse(std::string(what) + " " + problem->words);
      case mpa::json::JsonProblem::Kind::duplicate_member:
        return refuse(std::string(what) + " repeats a member name");
      case mpa::json::JsonProblem::Kind::not_json:
        break;
    }
    return refuse(std::string(what) + " is not JSON (" + problem->words + ")");
  }
  if (!doc.IsObject()) return refuse(std::string(what) + " is not a JSON object");
  return doc;
}

}  // namespace mpa::altinn::detail
