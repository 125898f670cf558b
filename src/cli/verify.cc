#include "cli/verify.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <tuple>
#include <variant>

#include "absl/strings/str_cat.h"
#include "cli/json_out.h"
#include "cli/no_checkpoint_store.h"
#include "core/clock.h"
#include "engine/engine.h"

namespace tally::cli {
namespace {

// One window of one account's meter, as the log's effects fold it.
using WindowKey = std::tuple<Scope, std::string /*account*/, std::string /*meter*/, Micros, Micros>;

struct Balance {
  int64_t used = 0;
  int64_t reserved = 0;
  Micros latest_time = kBeginningOfTime;  // latest: event time of `used`
};

struct Hold {
  std::string subject;
  std::string org;
  std::vector<Effect> effects;
  bool open = true;
};

// The independent recomputation: folds every event and ledger record of the
// log into per-window balances, following the rules documented in
// store/log_record.h (usage adds, or replaces for max/latest; holds reserve
// until committed, released or expired; resets subtract, never below zero).
class Recomputation {
 public:
  explicit Recomputation(const std::vector<Meter>& meters) {
    for (const Meter& m : meters) aggregation_[m.name] = m.aggregation;
  }

  absl::Status Apply(const LogRecord& record) {
    if (const auto* e = std::get_if<EventRecord>(&record)) {
      ++events_;
      subjects_.insert(e->event.subject);
      if (e->origin == EventRecord::Origin::kCommit) Close(e->reservation_id);
      for (const Effect& effect : e->effects) {
        auto agg = aggregation_.find(effect.meter);
        if (agg == aggregation_.end()) continue;
        Balance& b = balances_[Key(effect, e->event.subject, e->org)];
        switch (agg->second) {
          case Aggregation::kSum:
          case Aggregation::kCount:
          case Aggregation::kUniqueCount:
            b.used += effect.amount;
            break;
          case Aggregation::kMax:
            b.used = std::max(b.used, effect.amount);
            break;
          case Aggregation::kLatest:
            if (e->event.time >= b.latest_time) {
              b.used = effect.amount;
              b.latest_time = e->event.time;
            }
            break;
        }
      }
      return absl::OkStatus();
    }
    if (const auto* l = std::get_if<LedgerRecord>(&record)) {
      ++ledger_records_;
      subjects_.insert(l->subject);
      switch (l->kind) {
        case LedgerRecord::Kind::kHold:
          for (const Effect& effect : l->effects) {
            balances_[Key(effect, l->subject, l->org)].reserved += effect.amount;
          }
          holds_[l->reservation_id] = Hold{l->subject, l->org, l->effects, true};
          break;
        case LedgerRecord::Kind::kRelease:
        case LedgerRecord::Kind::kExpire:
          Close(l->reservation_id);
          break;
        case LedgerRecord::Kind::kReset:
          for (const Effect& effect : l->effects) {
            Balance& b = balances_[Key(effect, l->subject, l->org)];
            b.used = std::max<int64_t>(0, b.used + effect.amount);
          }
          break;
        case LedgerRecord::Kind::kGrant:
        case LedgerRecord::Kind::kRollover:
          break;  // credit changes the limit, not used or reserved
      }
    }
    return absl::OkStatus();
  }

  // The balance of one window; zero when the log never touched it.
  Balance Find(const QuotaView& v) const {
    auto it = balances_.find(WindowKey{v.scope, v.account, v.meter, v.period.start, v.period.end});
    return it == balances_.end() ? Balance{} : it->second;
  }

  uint64_t events() const { return events_; }
  uint64_t ledger_records() const { return ledger_records_; }
  const std::set<std::string>& subjects() const { return subjects_; }

 private:
  static WindowKey Key(const Effect& e, const std::string& subject, const std::string& org) {
    return WindowKey{e.scope, e.scope == Scope::kOrg ? org : subject, e.meter, e.window_start,
                     e.window_end};
  }

  void Close(const std::string& reservation_id) {
    auto it = holds_.find(reservation_id);
    if (it == holds_.end() || !it->second.open) return;
    it->second.open = false;
    for (const Effect& effect : it->second.effects) {
      balances_[Key(effect, it->second.subject, it->second.org)].reserved -= effect.amount;
    }
  }

  std::map<std::string, Aggregation> aggregation_;
  std::map<WindowKey, Balance> balances_;
  std::map<std::string, Hold> holds_;
  std::set<std::string> subjects_;
  uint64_t events_ = 0;
  uint64_t ledger_records_ = 0;
};

std::string Describe(const std::string& subject, const QuotaView& v) {
  std::string s = absl::StrCat("subject ", subject, ": ", v.meter);
  if (v.scope == Scope::kOrg) absl::StrAppend(&s, " (org ", v.account, ")");
  absl::StrAppend(&s, " window ", FormatRfc3339(v.period.start), "..",
                  FormatRfc3339(v.period.end));
  return s;
}

std::string Opt(const std::optional<int64_t>& v) {
  return v ? std::to_string(*v) : std::string("unlimited");
}

// Compares the recovered and replayed views of one subject field by field.
void CompareEngines(const std::string& subject, const std::vector<QuotaView>& recovered,
                    const std::vector<QuotaView>& replayed, std::vector<std::string>& out) {
  if (recovered.size() != replayed.size()) {
    out.push_back(absl::StrCat("subject ", subject, ": recovery shows ", recovered.size(),
                               " quotas, full replay ", replayed.size()));
    return;
  }
  for (size_t i = 0; i < recovered.size(); ++i) {
    const QuotaView& a = recovered[i];
    const QuotaView& b = replayed[i];
    if (a.meter != b.meter || a.scope != b.scope || a.account != b.account) {
      out.push_back(absl::StrCat("subject ", subject, ": quota ", i, " is ", a.meter,
                                 " after recovery but ", b.meter, " after full replay"));
      continue;
    }
    std::vector<std::string> diffs;
    auto diff = [&diffs](const char* field, const std::string& x, const std::string& y) {
      if (x != y) diffs.push_back(absl::StrCat(field, " ", x, " vs ", y));
    };
    diff("used", std::to_string(a.used), std::to_string(b.used));
    diff("reserved", std::to_string(a.reserved), std::to_string(b.reserved));
    diff("limit", Opt(a.limit), Opt(b.limit));
    diff("remaining", Opt(a.remaining), Opt(b.remaining));
    diff("status", std::string(QuotaStatusName(a.status)), std::string(QuotaStatusName(b.status)));
    diff("window", FormatRfc3339(a.period.start) + ".." + FormatRfc3339(a.period.end),
         FormatRfc3339(b.period.start) + ".." + FormatRfc3339(b.period.end));
    for (const std::string& d : diffs) {
      out.push_back(absl::StrCat(Describe(subject, a), ": ", d,
                                 " (checkpoint + replay vs full replay)"));
    }
  }
}

double MillisSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace

std::string VerifyResult::Summary() const {
  std::string s = absl::StrCat(events, " events, ", subjects, " subjects, ");
  if (ok()) {
    absl::StrAppend(&s, "all counters match");
  } else {
    absl::StrAppend(&s, mismatches.size(), " mismatch", mismatches.size() == 1 ? "" : "es");
  }
  return s;
}

absl::StatusOr<VerifyResult> VerifyStore(const Config& config, Store* store, Micros now) {
  VerifyResult result;
  const SimulatedClock clock(now);  // both engines see the same instant

  auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::unique_ptr<Engine>> recovered = Engine::Open(config, store, &clock);
  if (!recovered.ok()) {
    return absl::Status(recovered.status().code(),
                        absl::StrCat("recovery from checkpoint failed: ",
                                     std::string(recovered.status().message())));
  }
  result.recovery_ms = MillisSince(start);

  NoCheckpointStore no_checkpoint(store);
  start = std::chrono::steady_clock::now();
  absl::StatusOr<std::unique_ptr<Engine>> replayed = Engine::Open(config, &no_checkpoint, &clock);
  if (!replayed.ok()) {
    return absl::Status(replayed.status().code(),
                        absl::StrCat("full replay failed: ",
                                     std::string(replayed.status().message())));
  }
  result.full_replay_ms = MillisSince(start);

  Recomputation recomputed(config.meters);
  absl::Status s = store->Replay(
      0, [&recomputed](uint64_t, const LogRecord& record) { return recomputed.Apply(record); });
  if (!s.ok()) return s;
  result.events = recomputed.events();
  result.ledger_records = recomputed.ledger_records();

  absl::StatusOr<Registry> registry = store->LoadRegistry();
  if (!registry.ok()) return registry.status();
  std::set<std::string> subjects = recomputed.subjects();
  for (const Subject& subject : registry->subjects) subjects.insert(subject.id);
  for (const Subject& subject : config.subjects) subjects.insert(subject.id);
  result.subjects = subjects.size();

  for (const std::string& subject : subjects) {
    absl::StatusOr<std::vector<QuotaView>> a = (*recovered)->QuotaStatus(subject);
    absl::StatusOr<std::vector<QuotaView>> b = (*replayed)->QuotaStatus(subject);
    if (!a.ok() || !b.ok()) {
      result.mismatches.push_back(absl::StrCat(
          "subject ", subject, ": status after recovery: ",
          a.ok() ? "ok" : std::string(a.status().message()), "; after full replay: ",
          b.ok() ? "ok" : std::string(b.status().message())));
      continue;
    }
    CompareEngines(subject, *a, *b, result.mismatches);
    for (const QuotaView& v : *a) {
      ++result.quotas_compared;
      const Balance expected = recomputed.Find(v);
      if (v.used != expected.used) {
        result.mismatches.push_back(absl::StrCat(Describe(subject, v), ": used ", v.used,
                                                 " but the log implies ", expected.used));
      }
      if (v.reserved != expected.reserved) {
        result.mismatches.push_back(absl::StrCat(Describe(subject, v), ": reserved ",
                                                 v.reserved, " but the log implies ",
                                                 expected.reserved));
      }
    }
  }
  return result;
}

}  // namespace tally::cli
