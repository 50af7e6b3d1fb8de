// The request checks of the grant builder, shared by grant.cpp and
// check_grant_request (internal to agent/jwt/).
#pragma once

#include <rapidjson/document.h>

#include <string>
#include <string_view>

#include "agent/config/config.h"
#include "common/grant_request.h"
#include "common/result.h"

namespace mpa {

// The request's own checks; a present authorization_details is parsed
// into `authorization_details` for the grant's body.
Status check_request(const GrantRequest& request, const ClientConfig& client,
                     rapidjson::Document& authorization_details);

}  // namespace mpa
