// Administration: subjects, orgs, tiers, limits, resets, grants and API keys.
//
// Every change here is durable before it returns, and is appended together
// with its audit record (who, from where, before, after, why) in one Append,
// so the store commits both in one transaction or neither.
#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/engine.h"
#include "engine/engine_internal.h"
#include "store/codec.h"

namespace tally {
namespace {

constexpr char kStoreFailed[] = "storage failed earlier; tally accepts no writes until restarted";

// `patch` applied over `base`.
Subject Patched(Subject base, const SubjectPatch& patch) {
  if (patch.tier) base.tier = *patch.tier;
  if (patch.org) base.org = *patch.org;
  if (patch.email) base.email = *patch.email;
  if (patch.timezone) base.timezone = *patch.timezone;
  if (patch.anchor_day) base.anchor_day = *patch.anchor_day;
  if (patch.overrides) base.overrides = *patch.overrides;
  for (const auto& [meter, limit] : patch.set_overrides) base.overrides[meter] = limit;
  if (patch.stripe_customer_id) base.stripe_customer_id = *patch.stripe_customer_id;
  if (patch.notify) base.notify = *patch.notify;
  return base;
}

// [A-Za-z0-9_.-]{1,64}, as the config file requires of tier names.
bool IsTierName(const std::string& name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

// local@domain, no spaces or control characters: enough to catch a mistake,
// not a full RFC 5322 parser (mail delivery has the last word).
bool LooksLikeEmail(const std::string& email) {
  const size_t at = email.find('@');
  return email.size() <= 320 && at != std::string::npos && at > 0 && at + 1 < email.size() &&
         email.find('@', at + 1) == std::string::npos &&
         std::none_of(email.begin(), email.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20; });
}

}  // namespace

AuditRecord Engine::Audit(const Actor& actor, const std::string& action, std::string target,
                          std::string before, std::string after, Micros now) const {
  AuditRecord a;
  a.time = now;
  a.actor = actor.name.empty() ? "local" : actor.name;
  a.address = actor.address;
  a.action = action;
  a.target = std::move(target);
  a.before = std::move(before);
  a.after = std::move(after);
  a.reason = actor.reason;
  return a;
}

absl::Status Engine::ValidateSubject(const Subject& subject) const {
  if (subject.id.empty() || subject.id.size() > kMaxNameLength) {
    return absl::InvalidArgumentError("id: must be 1 to 128 characters");
  }
  {
    std::shared_lock<std::shared_mutex> lock(tiers_mu_);
    if (!tiers_.contains(subject.tier)) {
      return absl::InvalidArgumentError(absl::StrCat("tier: \"", subject.tier, "\" is not a defined tier"));
    }
  }
  if (!LoadZone(subject.timezone)) {
    return absl::InvalidArgumentError(
        absl::StrCat("timezone: \"", subject.timezone, "\" is not an IANA time zone"));
  }
  if (subject.anchor_day < 1 || subject.anchor_day > 31) {
    return absl::InvalidArgumentError("anchor_day: must be between 1 and 31");
  }
  if (!subject.email.empty() && !LooksLikeEmail(subject.email)) {
    return absl::InvalidArgumentError(absl::StrCat("email: \"", subject.email, "\" is not an email address"));
  }
  for (const auto& [meter, limit] : subject.overrides) {
    if (MeterIndexOf(meters_, meter) < 0) {
      return absl::InvalidArgumentError(absl::StrCat("overrides.", meter, ": no such meter"));
    }
    if (limit && *limit < 0) {
      return absl::InvalidArgumentError(absl::StrCat("overrides.", meter, ": must be non-negative"));
    }
  }
  return absl::OkStatus();
}

absl::Status Engine::AppendAndWait(std::vector<LogRecord> records) {
  absl::StatusOr<uint64_t> ticket = AppendLocked(std::move(records));
  if (!ticket.ok()) return ticket.status();
  absl::Status s = store_->WaitDurable(*ticket);
  if (!s.ok()) failed_.store(true, std::memory_order_release);
  return s;
}

absl::Status Engine::PutSubject(Subject subject, const Actor& actor) {
  SubjectPatch patch;
  patch.id = subject.id;
  patch.tier = subject.tier;
  patch.org = subject.org;
  patch.email = subject.email;
  patch.timezone = subject.timezone;
  patch.anchor_day = subject.anchor_day;
  patch.overrides = subject.overrides;
  patch.stripe_customer_id = subject.stripe_customer_id;
  patch.notify = subject.notify;
  return UpdateSubjects({std::move(patch)}, actor, "subject.put").status();
}

absl::StatusOr<std::vector<Subject>> Engine::UpdateSubjects(std::vector<SubjectPatch> patches,
                                                            const Actor& actor,
                                                            const std::string& action) {
  if (failed_.load()) return absl::UnavailableError(kStoreFailed);
  if (patches.empty()) return absl::InvalidArgumentError("updates: must hold at least one update");
  const Micros now = clock_->Now();
  StripeLocks locks(this);
  for (const SubjectPatch& p : patches) {
    locks.Add(StripeIndex(StableHash(p.id)));
    if (p.org && !p.org->empty()) locks.Add(StripeIndex(StableHash(*p.org)));
  }
  locks.Lock();

  // Validate every patch against a working copy first: all or nothing.
  const bool many = patches.size() > 1;
  absl::flat_hash_map<std::string, Subject> after;  // id -> subject as it will be
  absl::flat_hash_map<std::string, std::string> before;  // id -> encoded, "" if new
  std::vector<std::string> order;
  for (size_t i = 0; i < patches.size(); ++i) {
    const SubjectPatch& p = patches[i];
    auto fail = [&](const absl::Status& s) {
      return many ? absl::Status(s.code(), absl::StrCat("updates[", i, "].", s.message())) : s;
    };
    Subject base;
    if (auto it = after.find(p.id); it != after.end()) {
      base = it->second;
    } else if (SubjectEntry* entry = FindSubject(p.id); entry != nullptr) {
      base = entry->def;
      before[p.id] = EncodeSubject(base);
      order.push_back(p.id);
    } else if (!p.create) {
      return fail(absl::NotFoundError(absl::StrCat("user_id: subject \"", p.id, "\" is unknown")));
    } else {
      base.id = p.id;
      base.tier = default_tier_;
      base.created = now;
      before[p.id] = "";
      order.push_back(p.id);
    }
    Subject next = Patched(std::move(base), p);
    if (absl::Status s = ValidateSubject(next); !s.ok()) return fail(s);
    if (!next.org.empty() && FindOrg(next.org) == nullptr) {
      return fail(absl::InvalidArgumentError(
          absl::StrCat("org: \"", next.org, "\" is not a defined org")));
    }
    after[p.id] = std::move(next);
  }

  std::vector<LogRecord> records;
  std::vector<Subject> result;
  for (const std::string& id : order) {
    Subject& s = after[id];
    SubjectEntry* entry = FindSubject(id);
    if (entry == nullptr) {
      auto fresh = std::make_unique<SubjectEntry>();
      fresh->account.scope = Scope::kSubject;
      fresh->account.id = id;
      entry = fresh.get();
      stripes_[StripeIndex(StableHash(id))]->subjects[id] = std::move(fresh);
    }
    entry->def = s;
    BindAccount(entry->account, s.tier, s.timezone, s.anchor_day, s.overrides);
    records.emplace_back(
        Audit(actor, action, "subject:" + id, std::move(before[id]), EncodeSubject(s), now));
    records.emplace_back(SubjectRecord{s});
    result.push_back(std::move(s));
  }
  if (absl::Status s = AppendUnlockAndWait(std::move(records), locks, /*always_wait=*/true);
      !s.ok()) {
    return s;
  }
  return result;
}

absl::Status Engine::PutOrg(Org org, const Actor& actor) {
  if (failed_.load()) return absl::UnavailableError(kStoreFailed);
  if (org.id.empty() || org.id.size() > kMaxNameLength) {
    return absl::InvalidArgumentError("id: must be 1 to 128 characters");
  }
  Subject probe;
  probe.id = org.id;
  probe.tier = org.tier;
  probe.timezone = org.timezone;
  probe.anchor_day = org.anchor_day;
  probe.overrides = org.overrides;
  if (absl::Status s = ValidateSubject(probe); !s.ok()) return s;
  const Micros now = clock_->Now();
  StripeLocks locks(this);
  locks.Add(StripeIndex(StableHash(org.id)));
  locks.Lock();
  OrgEntry* entry = FindOrg(org.id);
  std::string before;
  if (entry == nullptr) {
    auto fresh = std::make_unique<OrgEntry>();
    fresh->account.scope = Scope::kOrg;
    fresh->account.id = org.id;
    entry = fresh.get();
    stripes_[StripeIndex(StableHash(org.id))]->orgs[org.id] = std::move(fresh);
  } else {
    before = EncodeOrg(entry->def);
  }
  entry->def = org;
  BindAccount(entry->account, org.tier, org.timezone, org.anchor_day, org.overrides);
  std::vector<LogRecord> records;
  records.emplace_back(Audit(actor, "org.put", "org:" + org.id, std::move(before), EncodeOrg(org), now));
  records.emplace_back(OrgRecord{std::move(org)});
  return AppendUnlockAndWait(std::move(records), locks, /*always_wait=*/true);
}

absl::Status Engine::PutTier(Tier tier, const Actor& actor) {
  if (failed_.load()) return absl::UnavailableError(kStoreFailed);
  if (!IsTierName(tier.name)) {
    return absl::InvalidArgumentError("name: a tier name must match [A-Za-z0-9_.-]{1,64}");
  }
  for (const Quota& q : tier.quotas) {
    if (MeterIndexOf(meters_, q.meter) < 0) {
      return absl::InvalidArgumentError(absl::StrCat("quotas.", q.meter, ": no such meter"));
    }
    if (q.limit && *q.limit < 0) {
      return absl::InvalidArgumentError(absl::StrCat("quotas.", q.meter, ".limit: must be non-negative"));
    }
  }
  for (const RateLimit& r : tier.rate_limits) {
    if (MeterIndexOf(meters_, r.meter) < 0 || r.rate <= 0 || r.per <= 0 || r.burst < 0) {
      return absl::InvalidArgumentError(absl::StrCat("rate_limits.", r.meter,
                                                     ": needs a known meter, rate > 0, per > 0"));
    }
  }
  std::lock_guard<std::mutex> change(tier_change_mu_);
  const Micros now = clock_->Now();
  std::string before;
  {
    std::unique_lock<std::shared_mutex> lock(tiers_mu_);
    if (auto it = tier_defs_.find(tier.name); it != tier_defs_.end()) before = EncodeTier(it->second);
    std::vector<Tier> defs;
    for (const auto& [name, t] : tier_defs_) {
      if (name != tier.name) defs.push_back(t);
    }
    defs.push_back(tier);
    auto saved_defs = tier_defs_;
    auto saved_tiers = tiers_;
    auto saved_plans = plans_;
    if (absl::Status s = ReplaceTiers(std::move(defs)); !s.ok()) {
      tier_defs_ = std::move(saved_defs);
      tiers_ = std::move(saved_tiers);
      plans_ = std::move(saved_plans);
      return absl::InvalidArgumentError(absl::StrCat("inherits: ", s.message()));
    }
  }
  std::vector<LogRecord> records;
  records.emplace_back(
      Audit(actor, "tier.put", "tier:" + tier.name, std::move(before), EncodeTier(tier), now));
  records.emplace_back(TierRecord{std::move(tier)});
  if (absl::Status s = AppendAndWait(std::move(records)); !s.ok()) return s;
  // Rebind every account: a tier's children may have changed too.
  for (auto& stripe : stripes_) {
    std::lock_guard<SpinThenBlockMutex> lock(stripe->mu);
    for (auto& [id, e] : stripe->subjects) {
      BindAccount(e->account, e->def.tier, e->def.timezone, e->def.anchor_day, e->def.overrides);
    }
    for (auto& [id, e] : stripe->orgs) {
      BindAccount(e->account, e->def.tier, e->def.timezone, e->def.anchor_day, e->def.overrides);
    }
  }
  return absl::OkStatus();
}

absl::Status Engine::SetLimit(const std::string& subject_id, const std::string& meter,
                              std::optional<int64_t> limit, const Actor& actor) {
  if (MeterIndexOf(meters_, meter) < 0) {
    return absl::InvalidArgumentError(absl::StrCat("quota_type: \"", meter, "\" is not a meter"));
  }
  if (limit && *limit < 0) return absl::InvalidArgumentError("limit: must be non-negative");
  SubjectPatch patch;
  patch.id = subject_id;
  patch.set_overrides[meter] = limit;
  patch.create = false;
  return UpdateSubjects({std::move(patch)}, actor, "quota.update").status();
}

absl::Status Engine::ResetWindow(const std::string& subject_id, const std::string& meter,
                                 const Actor& actor) {
  return AdjustWindow(subject_id, meter, LedgerRecord::Kind::kReset, 0, actor);
}

absl::Status Engine::Grant(const std::string& subject_id, const std::string& meter, int64_t amount,
                           const Actor& actor) {
  if (amount <= 0) return absl::InvalidArgumentError("amount: must be a positive integer");
  if (meter.empty()) return absl::InvalidArgumentError("meter: is required");
  return AdjustWindow(subject_id, meter, LedgerRecord::Kind::kGrant, amount, actor);
}

absl::Status Engine::AdjustWindow(const std::string& subject_id, const std::string& meter,
                                  LedgerRecord::Kind kind, int64_t amount, const Actor& actor) {
  if (failed_.load()) return absl::UnavailableError(kStoreFailed);
  const int only = meter.empty() ? -1 : MeterIndexOf(meters_, meter);
  if (!meter.empty() && only < 0) {
    return absl::InvalidArgumentError(absl::StrCat("quota_type: \"", meter, "\" is not a meter"));
  }
  const Micros now = clock_->Now();
  StripeLocks locks(this);
  locks.Add(StripeIndex(StableHash(subject_id)));
  locks.Lock();
  SubjectEntry* subject = FindSubject(subject_id);
  if (subject == nullptr) return absl::NotFoundError(absl::StrCat("user_id: subject \"", subject_id, "\" is unknown"));
  std::vector<LogRecord> records;
  LedgerRecord rec;
  rec.kind = kind;
  rec.time = now;
  rec.subject = subject_id;
  rec.org = subject->def.org;
  rec.actor = actor.name;
  rec.reason = actor.reason;
  // Before and after of each adjusted window, for the audit trail. Meter
  // names are [A-Za-z0-9_.-], so they need no JSON escaping.
  std::string before = "{", after = "{";
  absl::Status refused;
  for (size_t m = 0; m < meters_.size(); ++m) {
    if (only >= 0 && static_cast<int>(m) != only) continue;
    // Roll the window to now first (recording any rollover).
    Touch touch;
    PrepareTouch(subject->account, Scope::kSubject, static_cast<int>(m), 0, now, touch);
    CommitRoll(touch, now, subject_id, rec.org, records);
    WindowState& w = subject->account.windows[m];
    const int64_t delta = kind == LedgerRecord::Kind::kReset ? -w.used : amount;
    if (delta == 0) continue;
    const std::string was = absl::StrCat("{\"used\":", w.used, ",\"granted\":", w.granted, "}");
    if (kind == LedgerRecord::Kind::kReset) {
      w.used = 0;
      if (w.uniques) w.uniques->clear();
    } else if (int64_t granted; __builtin_add_overflow(w.granted, delta, &granted)) {
      // Refused; any rollover recorded above is still appended below.
      refused = absl::InvalidArgumentError(
          absl::StrCat("amount: the ", meters_[m].name, " credit of ", subject_id,
                       " would overflow a 64-bit integer"));
      continue;
    } else {
      w.granted = granted;
    }
    const char* sep = before.size() > 1 ? "," : "";
    absl::StrAppend(&before, sep, "\"", meters_[m].name, "\":", was);
    absl::StrAppend(&after, sep, "\"", meters_[m].name, "\":{\"used\":", w.used,
                    ",\"granted\":", w.granted, "}");
    rec.effects.push_back(Effect{Scope::kSubject, meters_[m].name, w.window.start, w.window.end, delta, 0});
  }
  if (!rec.effects.empty()) {
    const std::string action = kind == LedgerRecord::Kind::kReset ? "quota.reset" : "quota.grant";
    records.emplace_back(Audit(actor, action, "subject:" + subject_id, before + "}", after + "}", now));
    records.emplace_back(std::move(rec));
  }
  if (records.empty()) return refused;
  absl::Status appended = AppendUnlockAndWait(std::move(records), locks, /*always_wait=*/true);
  return appended.ok() ? refused : appended;
}

absl::Status Engine::PutApiKey(const ApiKey& key, const Actor& actor, const std::string& action) {
  if (failed_.load()) return absl::UnavailableError(kStoreFailed);
  if (key.id.empty() || key.hash.empty()) return absl::InvalidArgumentError("key: needs an id and a hash");
  std::lock_guard<std::mutex> lock(keys_mu_);  // one key change at a time, in log order
  std::string before;
  if (auto it = api_keys_.find(key.id); it != api_keys_.end()) before = EncodeApiKey(it->second);
  std::vector<LogRecord> records;
  records.emplace_back(
      Audit(actor, action, "key:" + key.id, std::move(before), EncodeApiKey(key), clock_->Now()));
  records.emplace_back(KeyRecord{key});
  if (absl::Status s = AppendAndWait(std::move(records)); !s.ok()) return s;
  api_keys_[key.id] = key;
  return absl::OkStatus();
}

std::vector<ApiKey> Engine::ApiKeys() const {
  std::lock_guard<std::mutex> lock(keys_mu_);
  std::vector<ApiKey> out;
  for (const auto& [id, key] : api_keys_) out.push_back(key);
  std::sort(out.begin(), out.end(), [](const ApiKey& a, const ApiKey& b) {
    return std::tie(a.created, a.id) < std::tie(b.created, b.id);
  });
  return out;
}

}  // namespace tally
