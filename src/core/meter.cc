#include "core/meter.h"

#include <algorithm>
#include <charconv>

namespace tally {
namespace {

constexpr std::string_view kContextPrefix = "context.";

constexpr std::pair<Aggregation, std::string_view> kAggregationNames[] = {
    {Aggregation::kSum, "sum"},
    {Aggregation::kCount, "count"},
    {Aggregation::kMax, "max"},
    {Aggregation::kLatest, "latest"},
    {Aggregation::kUniqueCount, "unique_count"},
};

// The context field a unique_count meter reads ("context.ip" -> "ip"), or
// nullopt when it reads a data field.
std::optional<std::string_view> ContextField(const Meter& meter) {
  if (meter.aggregation != Aggregation::kUniqueCount ||
      !meter.value.starts_with(kContextPrefix)) {
    return std::nullopt;
  }
  return std::string_view(meter.value).substr(kContextPrefix.size());
}

uint64_t HashDecimal(int64_t value) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  return StableHash(std::string_view(buf, end - buf));
}

}  // namespace

std::string_view AggregationName(Aggregation a) {
  for (const auto& [value, name] : kAggregationNames) {
    if (value == a) return name;
  }
  return "";
}

std::optional<Aggregation> ParseAggregation(std::string_view name) {
  for (const auto& [value, known] : kAggregationNames) {
    if (known == name) return value;
  }
  return std::nullopt;
}

bool Meter::Applies(const Event& event) const {
  if (!types.empty() &&
      std::find(types.begin(), types.end(), event.type) == types.end()) {
    return false;
  }
  if (aggregation == Aggregation::kCount) return true;
  if (const auto field = ContextField(*this)) {
    return !event.context.Field(*field).empty();
  }
  return event.Find(value) != nullptr;
}

uint64_t Meter::InputOf(const Event& event) const {
  if (aggregation == Aggregation::kCount) return 1;
  if (const auto field = ContextField(*this)) {
    return StableHash(event.context.Field(*field));
  }
  const int64_t* v = event.Find(value);
  if (v == nullptr) return 0;
  if (aggregation == Aggregation::kUniqueCount) return HashDecimal(*v);
  return static_cast<uint64_t>(*v);
}

std::vector<Meter> DefaultMeters() {
  return {
      Meter{
          .name = "chars", .aggregation = Aggregation::kSum, .value = "chars"},
      Meter{.name = "requests", .aggregation = Aggregation::kCount},
      Meter{.name = "tokens",
            .aggregation = Aggregation::kSum,
            .value = "tokens"},
  };
}

}  // namespace tally
