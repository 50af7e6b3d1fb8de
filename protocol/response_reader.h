// Pieces of response encoding and decoding shared by responses.cpp and
// status.cpp (internal to protocol/).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/json_text.h"
#include "common/result.h"

namespace mpa::protocol {

// Starts an answer: {"ok":<ok> and "id" if there is one.
void begin_response(json::Writer& writer, bool ok, const std::optional<std::string>& id_json);
// Closes the object and returns the line, ending in '\n'.
std::string finish_response(json::Writer& writer, const rapidjson::StringBuffer& buffer);

// Parses a response line into `document`; an {"ok":false} line becomes its
// Error (an unknown code becomes `internal`, keeping the code in the
// message), and a line that is not an answer becomes `internal` too.
Status read_response(rapidjson::Document& document, std::string_view line);

}  // namespace mpa::protocol
