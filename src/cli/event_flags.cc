#include "cli/event_flags.h"

#include <cstdio>
#include <random>

#include "cli/command.h"
#include "core/time.h"

namespace tally::cli {

std::vector<FlagSpec> EventFlags(const std::string& id_default, bool subject_required) {
  const std::string from = subject_required ? "" : "the reservation's";
  const std::string req = subject_required ? "; required" : "";
  return {
      {"subject", "S", from, "the subject (user) id" + req},
      {"type", "T", from, "the event type (the feature used)" + req},
      {"id", "ID", id_default, "idempotency key"},
      {"time", "RFC3339", "now", "event time, e.g. 2026-03-08T07:00:00Z"},
      {"data", "K=V[,K=V]", "none", "meter inputs, non-negative integers", true},
      {"session-id", "ID", "none", "context.session_id"},
      {"endpoint", "PATH", "none", "context.endpoint"},
  };
}

std::string RandomId() {
  std::random_device rd;
  std::uniform_int_distribution<uint64_t> dist;
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(dist(rd)),
                static_cast<unsigned long long>(dist(rd)));
  return buf;
}

bool EventFromFlags(const ParsedFlags& flags, bool require_subject_type, bool random_id,
                    Event& event, std::string& error) {
  if (std::optional<std::string> s = flags.Get("subject")) event.subject = *s;
  if (std::optional<std::string> t = flags.Get("type")) event.type = *t;
  if (require_subject_type) {
    if (event.subject.empty()) {
      error = "--subject is required";
      return false;
    }
    if (event.type.empty()) {
      error = "--type is required";
      return false;
    }
  }
  if (std::optional<std::string> id = flags.Get("id")) {
    event.id = *id;
  } else if (random_id) {
    event.id = RandomId();
  }
  if (std::optional<std::string> t = flags.Get("time")) {
    std::optional<Micros> at = ParseRfc3339(*t);
    if (!at) {
      error = "time: \"" + *t + "\" is not an RFC 3339 timestamp (e.g. 2026-03-08T07:00:00Z)";
      return false;
    }
    event.time = *at;
  }
  if (!ParseDataFlags(flags.All("data"), event.data, error)) return false;
  if (std::optional<std::string> s = flags.Get("session-id")) event.context.session_id = *s;
  if (std::optional<std::string> e = flags.Get("endpoint")) event.context.endpoint = *e;
  return true;
}

void PrintJson(const std::string& json) {
  std::fwrite(json.data(), 1, json.size(), stdout);
  std::fputc('\n', stdout);
}

}  // namespace tally::cli
