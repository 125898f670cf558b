// Exports: GET /api/usage/export streams events or usage buckets as CSV
// (RFC 4180), one JSON array, or NDJSON (analytics/exporter.h says what each
// kind holds). A user token exports its own subject only; service and admin
// keys name one subject with ?user_id= or leave it out for every subject.
//
// Every parameter is checked before the first byte (422 with the field); the
// body is then produced on a thread of the server's (http_server.h), reading
// the store with Store::ScanEvents or the rollups, so memory stays flat.
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "analytics/exporter.h"
#include "server/handlers/common.h"

namespace tally {
namespace {

// A present parameter must not be empty.
absl::StatusOr<std::string> NonEmpty(const HttpRequest& request, std::string_view name) {
  std::optional<std::string_view> v = request.query.Get(name);
  if (!v) return std::string();
  if (v->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(name), ": must not be empty; leave it out instead"));
  }
  return std::string(*v);
}

absl::StatusOr<ExportRequest> ReadExportRequest(ServerContext& ctx, const HttpRequest& request) {
  if (absl::Status s = request.query.AllowOnly({"format", "kind", "from", "to", "user_id", "type", "meter", "tz"});
      !s.ok()) {
    return s;
  }
  ExportRequest req;
  if (std::optional<std::string_view> f = request.query.Get("format")) {
    std::optional<ExportFormat> format = ParseExportFormat(*f);
    if (!format) return absl::InvalidArgumentError("format: must be csv, json or ndjson");
    req.format = *format;
  }
  if (std::optional<std::string_view> k = request.query.Get("kind")) {
    std::optional<ExportKind> kind = ParseExportKind(*k);
    if (!kind) return absl::InvalidArgumentError("kind: must be events, hourly, daily or monthly");
    req.kind = *kind;
  }
  absl::StatusOr<std::optional<Micros>> from = request.query.GetTime("from");
  if (!from.ok()) return from.status();
  absl::StatusOr<std::optional<Micros>> to = request.query.GetTime("to");
  if (!to.ok()) return to.status();
  req.from = from->value_or(kBeginningOfTime);
  req.to = to->value_or(kEndOfTime);
  if (request.principal.role == Role::kUser) {
    absl::StatusOr<std::string> own = SubjectOf(request);  // another user_id: 403
    if (!own.ok()) return own.status();
    req.subject = *std::move(own);
  } else {
    absl::StatusOr<std::string> named = NonEmpty(request, "user_id");
    if (!named.ok()) return named.status();
    req.subject = *std::move(named);
    if (!req.subject.empty()) {
      if (absl::StatusOr<Subject> s = ctx.engine->GetSubject(req.subject); !s.ok()) {
        if (absl::IsNotFound(s.status())) {
          return absl::NotFoundError(absl::StrCat("user_id: no subject \"", req.subject.substr(0, 128), "\""));
        }
        return s.status();
      }
    }
  }
  absl::StatusOr<std::string> type = NonEmpty(request, "type");
  if (!type.ok()) return type.status();
  req.type = *std::move(type);
  if (std::optional<std::string_view> meters = request.query.Get("meter")) {
    if (absl::Status s = ParseMeterList(*meters, ctx.engine->meters(), &req.meters); !s.ok()) return s;
  }
  absl::StatusOr<std::string> tz = NonEmpty(request, "tz");
  if (!tz.ok()) return tz.status();
  req.tz = *std::move(tz);
  if (absl::Status s = ValidateExportRequest(req, ctx.engine->meters(), ctx.clock->Now()); !s.ok()) return s;
  return req;
}

HandlerResult Export(ServerContext& ctx, HttpRequest& request) {
  absl::StatusOr<ExportRequest> req = ReadExportRequest(ctx, request);
  if (!req.ok()) return ErrorResult(req.status());
  if (req->kind != ExportKind::kEvents && ctx.rollups == nullptr) {
    return ErrorResult(absl::UnavailableError("usage exports are not available: this server keeps no rollups"));
  }
  ExportSources sources;
  sources.store = ctx.store;
  sources.rollups = ctx.rollups;
  sources.meters = ctx.engine->meters();
  Engine* engine = ctx.engine;
  sources.timezone_of = [engine](const std::string& subject) {
    absl::StatusOr<Subject> s = engine->GetSubject(subject);
    return s.ok() ? s->timezone : std::string("UTC");
  };
  HandlerResult r;
  r.response.content_type = std::string(ExportContentType(req->format));
  r.response.headers.emplace_back("Content-Disposition",
                                  absl::StrCat("attachment; filename=\"", ExportFileName(*req), "\""));
  r.response.headers.emplace_back("Cache-Control", "no-store");
  r.response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.response.stream = [export_request = *std::move(req), sources = std::move(sources)](BodySink& sink) {
    return RunExport(export_request, sources,
                     [&sink](std::string chunk, uint64_t) { return sink.Write(std::move(chunk)); });
  };
  return r;
}

}  // namespace

void AddExportRoutes(Router& router, ServerContext& ctx) {
  router.Add({Method::kGet, "/api/usage/export", Access::kUser, false,
              "Stream events or hourly/daily/monthly usage as CSV, JSON or NDJSON "
              "(format, kind, from, to, user_id, type, meter, tz)",
              [&ctx](HttpRequest& r) { return Export(ctx, r); }});
}

}  // namespace tally
