#include "cli/json_out.h"

#include <cmath>
#include <cstdio>

#include "core/time.h"

namespace tally::cli {
namespace {

// An RFC 3339 instant as a JSON string, or null for an open end of time.
std::string JsonTime(Micros t) {
  if (t == kBeginningOfTime || t == kEndOfTime || t == 0) return "null";
  return JsonString(FormatRfc3339(t));
}

}  // namespace

std::string JsonString(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
  return out;
}

std::string JsonInt(std::optional<int64_t> v) { return v ? std::to_string(*v) : "null"; }

std::string JsonPercent(double percent) {
  if (!std::isfinite(percent)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", percent);
  std::string s = buf;
  // Trim trailing zeros ("12.50" -> "12.5", "100.00" -> "100").
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::string QuotaViewJson(const QuotaView& v) {
  std::string out = "{";
  out += "\"meter\":" + JsonString(v.meter);
  out += ",\"scope\":" + JsonString(ScopeName(v.scope));
  out += ",\"account\":" + JsonString(v.account);
  out += ",\"limit\":" + JsonInt(v.limit);
  out += ",\"used\":" + std::to_string(v.used);
  out += ",\"reserved\":" + std::to_string(v.reserved);
  out += ",\"remaining\":" + JsonInt(v.remaining);
  out += ",\"percent\":" + JsonPercent(v.percent);
  out += ",\"status\":" + JsonString(QuotaStatusName(v.status));
  out += ",\"period\":{\"start\":" + JsonTime(v.period.start) + ",\"end\":" + JsonTime(v.period.end) + "}";
  out += ",\"reset_at\":" + JsonTime(v.period.end);
  out += "}";
  return out;
}

std::string QuotaViewsJson(const std::vector<QuotaView>& views) {
  std::string out = "[";
  for (size_t i = 0; i < views.size(); ++i) {
    if (i > 0) out += ",";
    out += QuotaViewJson(views[i]);
  }
  return out + "]";
}

std::string DecisionJson(const Decision& d) {
  std::string out = "{";
  out += "\"allowed\":" + std::string(d.allowed ? "true" : "false");
  out += ",\"reason\":" + (d.reason == DenyReason::kNone ? std::string("null")
                                                          : JsonString(DenyReasonName(d.reason)));
  out += ",\"replayed\":" + std::string(d.replayed ? "true" : "false");
  out += ",\"over_limit\":" + std::string(d.over_limit ? "true" : "false");
  out += ",\"retry_at\":" + (d.allowed ? std::string("null") : JsonTime(d.retry_at));
  if (!d.denied_meter.empty()) {
    out += ",\"denied_meter\":" + JsonString(d.denied_meter);
    out += ",\"denied_scope\":" + JsonString(ScopeName(d.denied_scope));
  }
  if (!d.reservation_id.empty()) {
    out += ",\"reservation_id\":" + JsonString(d.reservation_id);
    out += ",\"expires_at\":" + JsonTime(d.expires_at);
  }
  out += ",\"quotas\":" + QuotaViewsJson(d.quotas);
  out += ",\"crossings\":[";
  for (size_t i = 0; i < d.crossings.size(); ++i) {
    const ThresholdCrossing& c = d.crossings[i];
    if (i > 0) out += ",";
    out += "{\"meter\":" + JsonString(c.meter) + ",\"scope\":" + JsonString(ScopeName(c.scope)) +
           ",\"account\":" + JsonString(c.account) + ",\"percent\":" + std::to_string(c.percent) +
           "}";
  }
  out += "]}";
  return out;
}

}  // namespace tally::cli
