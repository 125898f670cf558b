// SerializeJson: boost::json::value to text, with numbers as people write
// them ("percent":5.25, not Boost's "5.25E0"): doubles in their shortest
// round-trip form (std::to_chars), integers as integers.
//
// Thread-safety: pure function.
#ifndef TALLY_SERVER_JSON_WRITER_H_
#define TALLY_SERVER_JSON_WRITER_H_

#include <string>

#include <boost/json.hpp>

namespace tally {

std::string SerializeJson(const boost::json::value& v);
void AppendJson(const boost::json::value& v, std::string* out);
void AppendJsonString(std::string_view s, std::string* out);

}  // namespace tally

#endif  // TALLY_SERVER_JSON_WRITER_H_
