// The `status` answer on the wire (DESIGN.md "status").
#include "protocol/status.h"

#include <initializer_list>
#include <utility>

#include "protocol/response_reader.h"

namespace mpa::protocol {
namespace {

using rapidjson::Value;

void write_text(json::Writer& writer, std::string_view key, const std::optional<std::string>& text) {
  if (!text) return;
  json::write_key(writer, key);
  json::write_string(writer, *text);
}

void write_number(json::Writer& writer, std::string_view key, const std::optional<std::int64_t>& number) {
  if (!number) return;
  json::write_key(writer, key);
  writer.Int64(*number);
}

void write_flag(json::Writer& writer, std::string_view key, const std::optional<bool>& flag) {
  if (!flag) return;
  json::write_key(writer, key);
  writer.Bool(*flag);
}

void write_client(json::Writer& writer, const ClientStatus& client) {
  writer.StartObject();
  write_text(writer, "name", client.name);
  write_text(writer, "client_id", client.client_id);
  write_flag(writer, "token_present", client.token_present);
  write_flag(writer, "logged_in", client.logged_in);
  write_text(writer, "token_label", client.token_label);
  write_text(writer, "certificate_subject", client.certificate_subject);
  write_number(writer, "certificate_not_after", client.certificate_not_after);
  writer.Key("last_error");
  if (client.last_error.empty()) {
    writer.Null();
  } else {
    json::write_string(writer, client.last_error);
  }
  write_number(writer, "last_error_at", client.last_error_at);
  write_flag(writer, "last_error_past", client.last_error_past);
  writer.EndObject();
}

using NamedNumber = std::pair<std::string_view, std::optional<std::int64_t>>;

// "key":{"name":number,...}, leaving out the numbers that are unset.
void write_numbers(json::Writer& writer, std::string_view key, std::initializer_list<NamedNumber> numbers) {
  json::write_key(writer, key);
  writer.StartObject();
  for (const auto& [name, number] : numbers) write_number(writer, name, number);
  writer.EndObject();
}

void write_cache(json::Writer& writer, const CacheStatus& cache) {
  write_numbers(writer, "cache", {{"entries", cache.entries}, {"in_flight", cache.in_flight},
                                  {"hits", cache.hits}, {"misses", cache.misses},
                                  {"exchanges", cache.exchanges}, {"held", cache.held}});
}

void write_workers(json::Writer& writer, const WorkerStatus& workers) {
  write_numbers(writer, "workers", {{"size", workers.size}, {"exchanging", workers.exchanging},
                                    {"waiting", workers.waiting}});
}

void write_signing(json::Writer& writer, const std::vector<SigningStatus>& queues) {
  json::write_key(writer, "signing");
  writer.StartArray();
  for (const SigningStatus& queue : queues) {
    writer.StartObject();
    write_text(writer, "token", queue.token);
    write_number(writer, "threads", queue.threads);
    write_number(writer, "signing", queue.signing);
    write_number(writer, "queued", queue.queued);
    write_number(writer, "oldest_wait_ms", queue.oldest_wait_ms);
    writer.EndObject();
  }
  writer.EndArray();
}

std::optional<std::string> text_of(const Value& object, const char* name) {
  const Value* member = json::find(object, name);
  if (member == nullptr || !member->IsString()) return std::nullopt;
  return std::string(json::view(*member));
}

std::optional<std::int64_t> number_of(const Value& object, const char* name) {
  const Value* member = json::find(object, name);
  if (member == nullptr || !member->IsInt64()) return std::nullopt;
  return member->GetInt64();
}

std::optional<bool> flag_of(const Value& object, const char* name) {
  const Value* member = json::find(object, name);
  if (member == nullptr || !member->IsBool()) return std::nullopt;
  return member->GetBool();
}

ClientStatus read_client(const Value& object) {
  ClientStatus client;
  client.name = text_of(object, "name");
  client.client_id = text_of(object, "client_id").value_or("");
  client.token_present = flag_of(object, "token_present");
  client.logged_in = flag_of(object, "logged_in");
  client.token_label = text_of(object, "token_label").value_or("");
  client.certificate_subject = text_of(object, "certificate_subject");
  client.certificate_not_after = number_of(object, "certificate_not_after");
  client.last_error = text_of(object, "last_error").value_or("");
  client.last_error_at = number_of(object, "last_error_at");
  client.last_error_past = flag_of(object, "last_error_past");
  return client;
}

CacheStatus read_cache(const Value& object) {
  return CacheStatus{number_of(object, "entries"), number_of(object, "in_flight"),
                     number_of(object, "hits"),    number_of(object, "misses"),
                     number_of(object, "exchanges"), number_of(object, "held")};
}

SigningStatus read_signing(const Value& object) {
  return SigningStatus{text_of(object, "token").value_or(""), number_of(object, "threads"),
                       number_of(object, "signing"), number_of(object, "queued"),
                       number_of(object, "oldest_wait_ms")};
}

WorkerStatus read_workers(const Value& object) {
  return WorkerStatus{number_of(object, "size"), number_of(object, "exchanging"),
                      number_of(object, "waiting")};
}

// Parts that are missing or of another type stay unset; clients that are
// not objects are skipped.
StatusResponse read_status(const Value& document) {
  StatusResponse status;
  status.version = text_of(document, "version");
  status.uptime_seconds = number_of(document, "uptime_seconds");
  if (const Value* clients = json::find(document, "clients"); clients && clients->IsArray()) {
    status.clients.emplace();
    for (const Value& client : clients->GetArray()) {
      if (client.IsObject()) status.clients->push_back(read_client(client));
    }
  }
  if (const Value* cache = json::find(document, "cache"); cache && cache->IsObject()) {
    status.cache = read_cache(*cache);
  }
  if (const Value* workers = json::find(document, "workers"); workers && workers->IsObject()) {
    status.workers = read_workers(*workers);
  }
  if (const Value* signing = json::find(document, "signing"); signing && signing->IsArray()) {
    status.signing.emplace();
    for (const Value& queue : signing->GetArray()) {
      if (queue.IsObject()) status.signing->push_back(read_signing(queue));
    }
  }
  return status;
}

}  // namespace

std::string encode_status_response(const std::optional<std::string>& id_json,
                                   const StatusResponse& status) {
  rapidjson::StringBuffer buffer;
  json::Writer writer(buffer);
  begin_response(writer, true, id_json);
  write_text(writer, "version", status.version);
  write_number(writer, "uptime_seconds", status.uptime_seconds);
  if (status.clients) {
    writer.Key("clients");
    writer.StartArray();
    for (const ClientStatus& client : *status.clients) write_client(writer, client);
    writer.EndArray();
  }
  if (status.cache) write_cache(writer, *status.cache);
  if (status.workers) write_workers(writer, *status.workers);
  if (status.signing) write_signing(writer, *status.signing);
  return finish_response(writer, buffer);
}

Result<StatusResponse> decode_status_response(std::string_view line) {
  rapidjson::Document document;
  if (auto answer = read_response(document, line); !answer) return std::move(answer).error();
  return read_status(document);
}

}  // namespace mpa::protocol
