#include "grpc/framing.hpp"

namespace skiff {

namespace {
constexpr uint8_t kEndFlag = 0x80;

void put_u32(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>(v >> 24));
  out.push_back(static_cast<char>(v >> 16));
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

uint32_t get_u32(std::string_view in) {
  auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(in[i])); };
  return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}

void put_field(std::string& out, std::string_view v) {
  put_u32(out, static_cast<uint32_t>(v.size()));
  out.append(v);
}

bool get_field(std::string_view& in, std::string& v) {
  if (in.size() < 4) return false;
  uint32_t n = get_u32(in);
  if (in.size() - 4 < n) return false;
  v.assign(in.substr(4, n));
  in.remove_prefix(4 + n);
  return true;
}

std::string frame(uint8_t flag, std::string_view payload) {
  std::string out;
  out.reserve(5 + payload.size());
  out.push_back(static_cast<char>(flag));
  put_u32(out, static_cast<uint32_t>(payload.size()));
  out.append(payload);
  return out;
}
}  // namespace

std::string frame_message(std::string_view message) {
  return frame(0, message);
}

void append_message_header(std::string& out, size_t length) {
  out.push_back(0);
  put_u32(out, static_cast<uint32_t>(length));
}

std::string frame_end(const GrpcCallEnd& end) {
  // Payload: code, message, details, then name/value pairs; each as length + bytes.
  std::string payload;
  put_u32(payload, static_cast<uint32_t>(end.code));
  put_field(payload, end.message);
  put_field(payload, end.details);
  for (const auto& t : end.trailers) {
    put_field(payload, t.name);
    put_field(payload, t.value);
  }
  return frame(kEndFlag, payload);
}

std::optional<GrpcCallEnd> parse_end(std::string_view in) {
  GrpcCallEnd end;
  if (in.size() < 4) return std::nullopt;
  end.code = static_cast<int>(get_u32(in));
  in.remove_prefix(4);
  if (!get_field(in, end.message) || !get_field(in, end.details)) return std::nullopt;
  while (!in.empty()) {
    Header h;
    if (!get_field(in, h.name) || !get_field(in, h.value)) return std::nullopt;
    end.trailers.push_back(std::move(h));
  }
  return end;
}

void Deframer::feed(std::string_view bytes) {
  // Consumed frames are dropped here, not in next(): views next() gave out stay valid until now.
  if (offset_ == pending_.size()) {
    pending_.clear();
    offset_ = 0;
  } else if (offset_ > (1u << 20)) {
    pending_.erase(0, offset_);
    offset_ = 0;
  }
  pending_.append(bytes);
}

std::optional<Deframer::Frame> Deframer::next() {
  std::string_view rest(pending_);
  rest.remove_prefix(offset_);
  if (rest.size() < 5) return std::nullopt;
  uint32_t n = get_u32(rest.substr(1));
  if (rest.size() - 5 < n) return std::nullopt;
  offset_ += 5 + n;
  return Frame{(static_cast<uint8_t>(rest[0]) & kEndFlag) != 0, rest.substr(5, n)};
}

}  // namespace skiff
