// log::Format::json: one JSON object per record.
#include <cstdio>
#include <string>

#include "common/clock.h"
#include "common/json_text.h"
#include "common/log.h"

namespace mpa::log {
namespace {

// RFC 3339 in UTC with milliseconds: format_utc's seconds, ".mmm" before the Z.
std::string rfc3339_ms(std::int64_t epoch_ms) {
  const std::int64_t seconds = epoch_ms >= 0 ? epoch_ms / 1000 : (epoch_ms - 999) / 1000;
  std::string stamp = format_utc(seconds);
  if (stamp.empty() || stamp.back() != 'Z') return stamp;
  char fraction[8];
  std::snprintf(fraction, sizeof fraction, ".%03d", static_cast<int>(epoch_ms - seconds * 1000));
  stamp.insert(stamp.size() - 1, fraction);
  return stamp;
}

}  // namespace

std::string json_line(Level level, std::int64_t epoch_ms, std::string_view message) {
  rapidjson::StringBuffer buffer;
  json::Writer writer(buffer);
  writer.StartObject();
  json::write_key(writer, "time");
  json::write_string(writer, rfc3339_ms(epoch_ms));
  json::write_key(writer, "level");
  json::write_string(writer, level_word(level));
  json::write_key(writer, "program");
  json::write_string(writer, kProgramName);
  json::write_key(writer, "message");
  json::write_string(writer, message);
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace mpa::log
