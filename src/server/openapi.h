// The OpenAPI 3.1 description of the API, generated from the route table
// (so every served route is described, and nothing else) plus the schemas of
// the bodies it takes and returns.
//
// Thread-safety: pure function.
#ifndef TALLY_SERVER_OPENAPI_H_
#define TALLY_SERVER_OPENAPI_H_

#include <string>

#include "server/router.h"

namespace tally {

std::string OpenApiJson(const Router& router, const std::string& version);

}  // namespace tally

#endif  // TALLY_SERVER_OPENAPI_H_
