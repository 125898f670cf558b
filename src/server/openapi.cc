#include "server/openapi.h"

#include <map>
#include <string_view>

#include <boost/json.hpp>

#include "absl/strings/ascii.h"
#include "server/json_writer.h"

namespace tally {
namespace json = boost::json;

namespace {

// Schemas of the bodies, written as JSON Schema (OpenAPI 3.1).
constexpr std::string_view kComponents = R"json({
  "securitySchemes": {
    "bearer": {"type": "http", "scheme": "bearer",
               "description": "An API key (tly_admin_..., tly_service_...) or a user JWT (HS256, RS256, ES256; sub = subject id)"}
  },
  "schemas": {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object",
      "required": ["code", "message"], "properties": {
        "code": {"type": "string", "enum": ["invalid_json", "invalid_request", "unauthorized", "forbidden",
                 "not_found", "method_not_allowed", "conflict", "payload_too_large", "quota_exceeded",
                 "rate_limited", "unavailable", "internal"]},
        "message": {"type": "string"}, "field": {"type": "string"}}}}},
    "Event": {"type": "object", "required": ["id", "subject", "type"], "properties": {
      "id": {"type": "string", "maxLength": 256, "description": "idempotency key"},
      "subject": {"type": "string", "maxLength": 128, "description": "the user (alias: user_id)"},
      "type": {"type": "string", "maxLength": 128, "description": "the feature used"},
      "time": {"type": "string", "format": "date-time", "description": "default: when received; up to 35 days late, 5 minutes ahead"},
      "data": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
      "context": {"type": "object", "properties": {"session_id": {"type": "string"}, "ip": {"type": "string"},
        "user_agent": {"type": "string"}, "endpoint": {"type": "string"}, "method": {"type": "string"},
        "processing_ms": {"type": "integer", "minimum": 0}, "error_code": {"type": "string"}}, "additionalProperties": false}},
      "additionalProperties": false},
    "Batch": {"type": "object", "required": ["events"], "properties": {
      "events": {"type": "array", "minItems": 1, "maxItems": 10000, "items": {"$ref": "#/components/schemas/Event"}}}},
    "Quota": {"type": "object", "properties": {
      "meter": {"type": "string"}, "scope": {"type": "string", "enum": ["subject", "org"]}, "account": {"type": "string"},
      "limit": {"type": ["integer", "null"]}, "used": {"type": "integer"}, "reserved": {"type": "integer"},
      "remaining": {"type": ["integer", "null"]}, "percent": {"type": "number"},
      "status": {"type": "string", "enum": ["ok", "warning", "exceeded"]},
      "period": {"type": "object", "properties": {"start": {"type": ["string", "null"], "format": "date-time"},
                                                 "end": {"type": ["string", "null"], "format": "date-time"}}},
      "reset_at": {"type": ["string", "null"], "format": "date-time"}}},
    "Decision": {"type": "object", "properties": {
      "allowed": {"type": "boolean"}, "replayed": {"type": "boolean"}, "over_limit": {"type": "boolean"},
      "reservation_id": {"type": "string"}, "expires_at": {"type": "string", "format": "date-time"},
      "quotas": {"type": "array", "items": {"$ref": "#/components/schemas/Quota"}},
      "thresholds": {"type": "array", "items": {"type": "object"}},
      "error": {"type": "object", "description": "on 429: code quota_exceeded or rate_limited, message, meter, scope"}}},
    "SubjectPatch": {"type": "object", "properties": {
      "tier": {"type": "string"}, "org": {"type": ["string", "null"]}, "email": {"type": "string"},
      "timezone": {"type": "string", "description": "IANA zone"}, "anchor_day": {"type": "integer", "minimum": 1, "maximum": 31},
      "overrides": {"type": "object", "additionalProperties": {"type": ["integer", "string", "null"]}},
      "stripe_customer_id": {"type": "string"}, "notify": {"type": "object"}, "reason": {"type": "string"}}}
  }
})json";

// Request body schema of each write route.
std::string_view BodyRef(std::string_view pattern) {
  if (pattern == "/api/usage/track") return "Batch";
  if (pattern.starts_with("/api/quota/consume") || pattern.starts_with("/api/quota/check") ||
      pattern == "/api/quota/reservations" || pattern.ends_with("/commit")) {
    return "Event";
  }
  if (pattern.starts_with("/api/admin/users/") || pattern.starts_with("/api/admin/quota/user/")) return "SubjectPatch";
  return "";
}

}  // namespace

std::string OpenApiJson(const Router& router, const std::string& version) {
  json::object paths;
  for (const Route& r : router.routes()) {
    json::object op;
    op["summary"] = r.summary;
    const char* who = r.access == Access::kPublic    ? "anyone"
                      : r.access == Access::kUser    ? "user token, service or admin key"
                      : r.access == Access::kService ? "service or admin key"
                                                     : "admin key";
    op["description"] = std::string("Who: ") + who + (r.write ? ". Counts against the key's write limit." : ".");
    if (r.access != Access::kPublic) op["security"] = json::array{json::object{{"bearer", json::array{}}}};
    json::array params;
    for (size_t open = r.pattern.find('{'); open != std::string::npos; open = r.pattern.find('{', open + 1)) {
      const size_t close = r.pattern.find('}', open);
      {
        params.push_back({{"name", r.pattern.substr(open + 1, close - open - 1)},
                          {"in", "path"},
                          {"required", true},
                          {"schema", {{"type", "string"}}}});
      }
    }
    if (r.access == Access::kUser) {
      params.push_back({{"name", "user_id"},
                        {"in", "query"},
                        {"required", false},
                        {"description", "the subject; required with service and admin keys"},
                        {"schema", {{"type", "string"}}}});
    }
    if (!params.empty()) op["parameters"] = std::move(params);
    if (std::string_view ref = BodyRef(r.pattern); !ref.empty()) {
      op["requestBody"] = {{"required", true},
                           {"content", {{"application/json",
                                         {{"schema", {{"$ref", "#/components/schemas/" + std::string(ref)}}}}}}}};
    } else if (r.method == Method::kPost || r.method == Method::kPut) {
      op["requestBody"] = {{"required", true}, {"content", {{"application/json", {{"schema", {{"type", "object"}}}}}}}};
    }
    json::object responses;
    const bool decides = BodyRef(r.pattern) == "Event";
    responses[r.pattern == "/api/quota/reservations" ? "201" : "200"] =
        decides ? json::value{{"description", "the decision"},
                              {"content", {{"application/json", {{"schema", {{"$ref", "#/components/schemas/Decision"}}}}}}}}
                : json::value{{"description", "success"}};
    json::object error_ref{{"content", {{"application/json", {{"schema", {{"$ref", "#/components/schemas/Error"}}}}}}}};
    auto error = [&](const char* code, const char* what) {
      json::object e = error_ref;
      e["description"] = what;
      responses[code] = std::move(e);
    };
    if (r.method == Method::kPost || r.method == Method::kPut) {
      error("400", "invalid_json");
      error("413", "payload_too_large");
    }
    if (r.access != Access::kPublic) {
      error("401", "unauthorized: no, unknown or expired credentials");
      error("403", "forbidden: the credentials may not do this");
      error("422", "invalid_request: the field named in error.field is wrong");
    }
    if (decides || r.write) error("429", "quota_exceeded or rate_limited; see Retry-After");
    if (r.write) error("409", "conflict: an id reused with another body, or a reservation already settled");
    error("503", "unavailable: storage failed, or the server is draining");
    op["responses"] = std::move(responses);
    json::value& path = paths[r.pattern];
    if (!path.is_object()) path = json::object();
    path.as_object()[absl::AsciiStrToLower(std::string(MethodName(r.method)))] = std::move(op);
  }
  json::object doc;
  doc["openapi"] = "3.1.0";
  doc["info"] = {{"title", "tally"},
                 {"version", version},
                 {"description", "Usage metering and quota enforcement: exact, atomic, idempotent."}};
  doc["paths"] = std::move(paths);
  doc["components"] = json::parse(kComponents);
  return SerializeJson(doc);
}

}  // namespace tally
