// Meter: a number derived from events.
//
// A meter reads one field of an event (or just counts events), optionally only
// for some event types, and aggregates it per window:
//   sum           add data[value]                 e.g. chars, tokens
//   count         add 1 per event                 e.g. requests
//   max           the largest data[value] seen    e.g. peak concurrent jobs
//   latest        the data[value] of the latest event (by event time)
//   unique_count  the number of distinct values of data[value], or of a
//                 context field when value is "context.session_id" etc.
//
// Thread-safety: immutable after construction.
#ifndef TALLY_CORE_METER_H_
#define TALLY_CORE_METER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"

namespace tally {

enum class Aggregation { kSum, kCount, kMax, kLatest, kUniqueCount };

std::string_view AggregationName(Aggregation a);
std::optional<Aggregation> ParseAggregation(std::string_view name);

struct Meter {
  std::string name;
  Aggregation aggregation = Aggregation::kSum;
  // The data field read (or "context.<field>" for unique_count). Empty for count.
  std::string value;
  // Event types this meter counts; empty means every type.
  std::vector<std::string> types;

  // Whether `event` touches this meter: its type passes the filter and, except
  // for count, it carries the field.
  bool Applies(const Event& event) const;

  // The meter's input from `event`: 1 for count, data[value] for sum, max and
  // latest, a 64-bit hash of the value for unique_count.
  // REQUIRES: Applies(event).
  uint64_t InputOf(const Event& event) const;
};

// The three meters tally starts with: chars (sum of data.chars), requests
// (count), tokens (sum of data.tokens).
std::vector<Meter> DefaultMeters();

}  // namespace tally

#endif  // TALLY_CORE_METER_H_
