#include "core/tier.h"

#include <algorithm>
#include <set>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tally {
namespace {

constexpr std::pair<Overage, std::string_view> kOverageNames[] = {
    {Overage::kBlock, "block"},
    {Overage::kAllow, "allow"},
    {Overage::kAllowUpTo, "allow_up_to"},
};

// `parent`'s entries for meters that `child` does not name, then `child`'s.
template <typename T>
std::vector<T> MergeByMeter(const std::vector<T>& parent,
                            const std::vector<T>& child) {
  std::set<std::string_view> named;
  for (const T& c : child) named.insert(c.meter);
  std::vector<T> merged;
  for (const T& p : parent) {
    if (!named.contains(p.meter)) merged.push_back(p);
  }
  merged.insert(merged.end(), child.begin(), child.end());
  return merged;
}

Pricing MergePricing(const Pricing& parent, const Pricing& child) {
  const Pricing defaults;
  Pricing merged = parent;
  if (child.base_cents != defaults.base_cents)
    merged.base_cents = child.base_cents;
  if (child.currency != defaults.currency) merged.currency = child.currency;
  for (const auto& [meter, price] : child.overage)
    merged.overage[meter] = price;
  return merged;
}

Tier Merge(const Tier& parent, const Tier& child) {
  Tier merged = child;
  merged.inherits.clear();
  merged.quotas = MergeByMeter(parent.quotas, child.quotas);
  merged.rate_limits = MergeByMeter(parent.rate_limits, child.rate_limits);
  merged.pricing = MergePricing(parent.pricing, child.pricing);
  return merged;
}

class Resolver {
 public:
  explicit Resolver(const std::vector<Tier>& tiers) : tiers_(tiers) {}

  absl::StatusOr<std::vector<Tier>> Run() {
    for (size_t i = 0; i < tiers_.size(); ++i) {
      if (!index_.emplace(tiers_[i].name, i).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("tier \"", tiers_[i].name, "\" is defined twice"));
      }
    }
    resolved_.resize(tiers_.size());
    state_.assign(tiers_.size(), State::kTodo);
    for (size_t i = 0; i < tiers_.size(); ++i) {
      if (absl::Status s = Resolve(i); !s.ok()) return s;
    }
    return std::move(resolved_);
  }

 private:
  enum class State { kTodo, kInProgress, kDone };

  absl::Status Resolve(size_t i) {
    if (state_[i] == State::kDone) return absl::OkStatus();
    if (state_[i] == State::kInProgress) return CycleError(i);
    const Tier& tier = tiers_[i];
    if (tier.inherits.empty()) {
      resolved_[i] = tier;
      state_[i] = State::kDone;
      return absl::OkStatus();
    }
    const auto parent = index_.find(tier.inherits);
    if (parent == index_.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tier \"", tier.name, "\" inherits unknown tier \"",
                       tier.inherits, "\""));
    }
    state_[i] = State::kInProgress;
    path_.push_back(i);
    if (absl::Status s = Resolve(parent->second); !s.ok()) return s;
    path_.pop_back();
    resolved_[i] = Merge(resolved_[parent->second], tier);
    state_[i] = State::kDone;
    return absl::OkStatus();
  }

  // `i` is on path_: the tiers from it to the end of path_ form the cycle.
  absl::Status CycleError(size_t i) const {
    std::vector<std::string> names;
    auto it = std::find(path_.begin(), path_.end(), i);
    for (; it != path_.end(); ++it) names.push_back(tiers_[*it].name);
    names.push_back(tiers_[i].name);
    return absl::InvalidArgumentError(absl::StrCat(
        "tiers inherit in a cycle: ", absl::StrJoin(names, " -> ")));
  }

  const std::vector<Tier>& tiers_;
  std::unordered_map<std::string_view, size_t> index_;
  std::vector<Tier> resolved_;
  std::vector<State> state_;
  std::vector<size_t> path_;
};

}  // namespace

std::string_view OverageName(Overage o) {
  for (const auto& [value, name] : kOverageNames) {
    if (value == o) return name;
  }
  return "";
}

std::optional<Overage> ParseOverage(std::string_view name) {
  for (const auto& [value, known] : kOverageNames) {
    if (known == name) return value;
  }
  return std::nullopt;
}

const Quota* Tier::FindQuota(std::string_view meter) const {
  for (const Quota& q : quotas) {
    if (q.meter == meter) return &q;
  }
  return nullptr;
}

absl::StatusOr<std::vector<Tier>> ResolveTiers(const std::vector<Tier>& tiers) {
  return Resolver(tiers).Run();
}

}  // namespace tally
