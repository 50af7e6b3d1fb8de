#include "agent/signer_helper/wire.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "agent/signer_helper/wire_buffer.h"

namespace mpa::signer_helper {
namespace {

constexpr std::uint8_t kLastErrorCode = static_cast<std::uint8_t>(ErrorCode::invalid_config);
constexpr std::uint8_t kLastAlg = static_cast<std::uint8_t>(JwsAlg::RS512);
// A SignerInfo on the wire with every string empty.
constexpr std::size_t kMinInfoBytes = 1 + 1 + 4 + 4 + 4 + 8 + 4;

// ------------------------------------------------------------------ writing

void put(WireWriter& w, const SignerInfo& info) {
  w.u8(info.token_present ? 1 : 0);
  w.u8(info.logged_in ? 1 : 0);
  w.text(info.token_label, kMaxNameBytes, "token label");
  w.text(info.key_uri, kMaxNameBytes, "key URI");
  w.text(info.certificate_subject, kMaxNameBytes, "certificate subject");
  w.u64(static_cast<std::uint64_t>(info.certificate_not_after));
  w.text(info.last_error, kMaxMessageBytes, "last error");
}

void put_keys(WireWriter& w, const std::vector<KeySetup>& keys) {
  w.count(keys.size(), kMaxKeys, "keys");
  for (const KeySetup& key : keys) {
    w.text(key.key_uri, kMaxNameBytes, "key URI");
    w.u8(key.chain_file ? 1 : 0);
    if (key.chain_file) w.text(*key.chain_file, kMaxNameBytes, "chain file");
  }
}

void put_policy(WireWriter& w, const std::vector<JwsAlg>& algs, const std::vector<std::string>& audiences) {
  w.count(algs.size(), kLastAlg + 1, "allowed algs");
  for (JwsAlg alg : algs) w.u8(static_cast<std::uint8_t>(alg));
  w.count(audiences.size(), kMaxAudiences, "audiences");
  for (const std::string& aud : audiences) w.text(aud, kMaxNameBytes, "audience");
}

void put(WireWriter& w, const SetupMessage& m) {
  w.text(m.module_path, kMaxNameBytes, "module path");
  w.text(m.token_uri, kMaxNameBytes, "token URI");
  put_keys(w, m.keys);
  w.u8(static_cast<std::uint8_t>(m.pin_source));
  w.text(m.pin_name, kMaxNameBytes, "PIN source");
  put_policy(w, m.allowed_algs, m.allowed_audiences);
  w.text(m.state_dir, kMaxNameBytes, "state dir");
  w.u32(m.max_concurrent_signatures);
}

void put(WireWriter& w, const ReconfigureMessage& m) {
  put_keys(w, m.keys);
  put_policy(w, m.allowed_algs, m.allowed_audiences);
}

void put(WireWriter& w, const ReadyMessage& m) {
  w.count(m.keys.size(), kMaxKeys, "keys");
  for (const KeyReady& key : m.keys) {
    w.count(key.chain.size(), kMaxChainCertificates, "chain");
    for (const Bytes& der : key.chain) w.bytes(der, kMaxCertificateBytes, "certificate");
    put(w, key.info);
  }
}

void put(WireWriter& w, const FailedMessage& m) {
  w.u8(static_cast<std::uint8_t>(m.failure));
  w.u8(static_cast<std::uint8_t>(m.code));
  w.text(m.message, kMaxMessageBytes, "message");
}

void put(WireWriter& w, const SignMessage& m) {
  w.u64(m.id);
  w.u32(m.key_index);
  w.u8(static_cast<std::uint8_t>(m.alg));
  w.text(m.signing_input, kMaxSigningInputBytes, "signing input");
}

void put(WireWriter& w, const SignatureMessage& m) {
  w.u64(m.id);
  w.bytes(m.signature, kMaxSignatureBytes, "signature");
}

void put(WireWriter& w, const SignErrorMessage& m) {
  w.u64(m.id);
  w.u8(static_cast<std::uint8_t>(m.code));
  w.text(m.message, kMaxMessageBytes, "message");
}

void put(WireWriter& w, const InfoMessage& m) { w.u64(m.id); }

void put(WireWriter& w, const InfoReplyMessage& m) {
  w.u64(m.id);
  w.count(m.keys.size(), kMaxKeys, "keys");
  for (const SignerInfo& info : m.keys) put(w, info);
}

// ------------------------------------------------------------------ reading

bool get_bool(WireReader& r, std::string_view what) {
  const std::uint8_t v = r.u8();
  if (v > 1) r.fail_with(std::string(what) + ": " + std::to_string(v) + " is not 0 or 1");
  return v == 1;
}

ErrorCode get_code(WireReader& r) {
  const std::uint8_t v = r.u8();
  if (v > kLastErrorCode) r.fail_with("error code " + std::to_string(v) + " is unknown");
  return static_cast<ErrorCode>(v);
}

JwsAlg get_alg(WireReader& r) {
  const std::uint8_t v = r.u8();
  if (v > kLastAlg) r.fail_with("alg " + std::to_string(v) + " is unknown");
  return static_cast<JwsAlg>(v);
}

SignerInfo get_info(WireReader& r) {
  SignerInfo info;
  info.token_present = get_bool(r, "token present");
  info.logged_in = get_bool(r, "logged in");
  info.token_label = r.text(kMaxNameBytes, "token label");
  info.key_uri = r.text(kMaxNameBytes, "key URI");
  info.certificate_subject = r.text(kMaxNameBytes, "certificate subject");
  info.certificate_not_after = static_cast<std::int64_t>(r.u64());
  info.last_error = r.text(kMaxMessageBytes, "last error");
  return info;
}

void get_keys(WireReader& r, std::vector<KeySetup>& keys) {
  keys.resize(r.count(kMaxKeys, 5, "keys"));
  for (KeySetup& key : keys) {
    key.key_uri = r.text(kMaxNameBytes, "key URI");
    if (get_bool(r, "has chain file")) key.chain_file = r.text(kMaxNameBytes, "chain file");
  }
}

void get_policy(WireReader& r, std::vector<JwsAlg>& algs, std::vector<std::string>& audiences) {
  algs.resize(r.count(kLastAlg + 1, 1, "allowed algs"));
  for (JwsAlg& alg : algs) alg = get_alg(r);
  audiences.resize(r.count(kMaxAudiences, 4, "audiences"));
  for (std::string& aud : audiences) aud = r.text(kMaxNameBytes, "audience");
}

void get(WireReader& r, SetupMessage& m) {
  m.module_path = r.text(kMaxNameBytes, "module path");
  m.token_uri = r.text(kMaxNameBytes, "token URI");
  get_keys(r, m.keys);
  const std::uint8_t source = r.u8();
  if (source != 1 && source != 2) r.fail_with("PIN source " + std::to_string(source) + " is unknown");
  m.pin_source = static_cast<PinSource>(source);
  m.pin_name = r.text(kMaxNameBytes, "PIN source");
  get_policy(r, m.allowed_algs, m.allowed_audiences);
  m.state_dir = r.text(kMaxNameBytes, "state dir");
  m.max_concurrent_signatures = r.u32();
  if (r.ok() && (m.max_concurrent_signatures == 0 || m.max_concurrent_signatures > 256)) {
    r.fail_with("max concurrent signatures " + std::to_string(m.max_concurrent_signatures) +
                " is outside 1..256");
  }
}

void get(WireReader& r, ReconfigureMessage& m) {
  get_keys(r, m.keys);
  get_policy(r, m.allowed_algs, m.allowed_audiences);
}

void get(WireReader& r, ReadyMessage& m) {
  m.keys.resize(r.count(kMaxKeys, 4, "keys"));
  for (KeyReady& key : m.keys) {
    key.chain.resize(r.count(kMaxChainCertificates, 4, "chain"));
    for (Bytes& der : key.chain) der = r.bytes(kMaxCertificateBytes, "certificate");
    key.info = get_info(r);
  }
}

void get(WireReader& r, FailedMessage& m) {
  const std::uint8_t failure = r.u8();
  if (failure < 1 || failure > 3) r.fail_with("setup failure " + std::to_string(failure) + " is unknown");
  m.failure = static_cast<SetupFailure>(failure);
  m.code = get_code(r);
  m.message = r.text(kMaxMessageBytes, "message");
}

void get(WireReader& r, SignMessage& m) {
  m.id = r.u64();
  m.key_index = r.u32();
  if (m.key_index >= kMaxKeys) r.fail_with("key index " + std::to_string(m.key_index) + " is out of range");
  m.alg = get_alg(r);
  m.signing_input = r.text(kMaxSigningInputBytes, "signing input");
}

void get(WireReader& r, SignatureMessage& m) {
  m.id = r.u64();
  m.signature = r.bytes(kMaxSignatureBytes, "signature");
  if (r.ok() && m.signature.empty()) r.fail_with("signature: empty");
}

void get(WireReader& r, SignErrorMessage& m) {
  m.id = r.u64();
  m.code = get_code(r);
  m.message = r.text(kMaxMessageBytes, "message");
}

void get(WireReader& r, InfoMessage& m) { m.id = r.u64(); }

void get(WireReader& r, InfoReplyMessage& m) {
  m.id = r.u64();
  m.keys.resize(r.count(kMaxKeys, kMinInfoBytes, "keys"));
  for (SignerInfo& info : m.keys) info = get_info(r);
}

template <std::size_t I = 0>
Result<Message> decode_as(std::size_t index, WireReader& reader) {
  if constexpr (I < std::variant_size_v<Message>) {
    if (index != I) return decode_as<I + 1>(index, reader);
    std::variant_alternative_t<I, Message> m;
    get(reader, m);
    if (reader.ok() && reader.remaining() != 0) {
      reader.fail_with(std::to_string(reader.remaining()) + " bytes after the last field");
    }
    if (!reader.ok()) return make_error(ErrorCode::internal, "signer wire: " + reader.error());
    return Message(std::move(m));
  } else {
    return make_error(ErrorCode::internal, "signer wire: unknown message type");
  }
}

Status write_all(int fd, const std::uint8_t* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error(ErrorCode::internal, std::string("signer wire: send: ") + std::strerror(errno));
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return {};
}

// Reads exactly `size` bytes; 0 when the stream ended before the first.
Result<std::size_t> read_all(int fd, std::uint8_t* data, std::size_t size) {
  std::size_t got = 0;
  while (got < size) {
    const ssize_t n = ::read(fd, data + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error(ErrorCode::internal, std::string("signer wire: read: ") + std::strerror(errno));
    if (n == 0) {
      if (got == 0) return std::size_t{0};
      return make_error(ErrorCode::internal, "signer wire: the stream ended inside a frame");
    }
    got += static_cast<std::size_t>(n);
  }
  return got;
}

}  // namespace

FailedMessage failed_message(const Error& error) {
  SetupFailure kind = SetupFailure::other;
  if (error.reason == ErrorReason::pin_refused) kind = SetupFailure::pin_refused;
  if (error.reason == ErrorReason::pin_unreadable) kind = SetupFailure::pin_unreadable;
  std::string message = error.message;
  if (message.size() > kMaxMessageBytes) message.resize(kMaxMessageBytes);
  return FailedMessage{kind, error.code, std::move(message)};
}

Error error_of(const FailedMessage& failed) {
  ErrorReason reason = ErrorReason::none;
  if (failed.failure == SetupFailure::pin_refused) reason = ErrorReason::pin_refused;
  if (failed.failure == SetupFailure::pin_unreadable) reason = ErrorReason::pin_unreadable;
  return make_error(failed.code, failed.message, reason);
}

Result<Bytes> encode(const Message& message) {
  WireWriter writer;
  writer.u8(kWireVersion);
  writer.u8(static_cast<std::uint8_t>(message.index() + 1));
  std::visit([&](const auto& m) { put(writer, m); }, message);
  auto body = std::move(writer).finish();
  if (body && body->size() > kMaxFrameBytes) {
    return make_error(ErrorCode::internal, "signer wire: frame of " + std::to_string(body->size()) +
                                               " bytes is over the limit");
  }
  return body;
}

Result<Message> decode(std::span<const std::uint8_t> body) {
  if (body.size() > kMaxFrameBytes) {
    return make_error(ErrorCode::internal, "signer wire: frame over the limit");
  }
  WireReader reader(body);
  const std::uint8_t version = reader.u8();
  const std::uint8_t type = reader.u8();
  if (!reader.ok()) return make_error(ErrorCode::internal, "signer wire: frame shorter than its header");
  if (version != kWireVersion) {
    return make_error(ErrorCode::internal, "signer wire: version " + std::to_string(version) +
                                               ", expected " + std::to_string(kWireVersion));
  }
  if (type == 0 || type > std::variant_size_v<Message>) {
    return make_error(ErrorCode::internal, "signer wire: unknown message type " + std::to_string(type));
  }
  return decode_as(type - 1, reader);
}

Status write_frame(int fd, const Message& message) {
  auto body = encode(message);
  if (!body) return std::move(body).error();
  Bytes frame;
  frame.reserve(4 + body->size());
  const auto size = static_cast<std::uint32_t>(body->size());
  for (int shift = 24; shift >= 0; shift -= 8) frame.push_back(static_cast<std::uint8_t>(size >> shift));
  frame.insert(frame.end(), body->begin(), body->end());
  return write_all(fd, frame.data(), frame.size());
}

Result<std::optional<Message>> read_frame(int fd) {
  std::uint8_t prefix[4];
  auto got = read_all(fd, prefix, sizeof prefix);
  if (!got) return std::move(got).error();
  if (*got == 0) return std::optional<Message>();
  const std::uint32_t size = (std::uint32_t{prefix[0]} << 24) | (std::uint32_t{prefix[1]} << 16) |
                             (std::uint32_t{prefix[2]} << 8) | prefix[3];
  if (size > kMaxFrameBytes) {
    return make_error(ErrorCode::internal, "signer wire: frame of " + std::to_string(size) +
                                               " bytes announced, over the limit");
  }
  Bytes body(size);
  if (size > 0) {
    auto rest = read_all(fd, body.data(), size);
    if (!rest) return std::move(rest).error();
    if (*rest == 0) return make_error(ErrorCode::internal, "signer wire: the stream ended inside a frame");
  }
  auto message = decode(body);
  if (!message) return std::move(message).error();
  return std::optional<Message>(std::move(*message));
}

}  // namespace mpa::signer_helper
