#include "wire.hpp"

namespace skiff::tcp_transport::wire {
namespace {

void put_u32(std::string& out, uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(b, 4);
}
void put_u64(std::string& out, uint64_t v) {
  put_u32(out, static_cast<uint32_t>(v >> 32));
  put_u32(out, static_cast<uint32_t>(v));
}
void put_str(std::string& out, skiff_str_t s) {
  put_u32(out, static_cast<uint32_t>(s.len));
  if (s.len) out.append(s.ptr, s.len);
}
void put_headers(std::string& out, const skiff_header_t* headers, size_t count) {
  put_u32(out, static_cast<uint32_t>(count));
  for (size_t i = 0; i < count; ++i) {
    put_str(out, headers[i].name);
    put_str(out, headers[i].value);
  }
}

// Reserves the frame header, lets `body` append the payload, then fills in the length.
template <typename Body>
void append_frame(std::string& out, FrameType type, Body body) {
  const size_t start = out.size();
  out.append(kFrameHeaderSize, '\0');
  body();
  put_frame_header(reinterpret_cast<uint8_t*>(out.data() + start), type,
                   static_cast<uint32_t>(out.size() - start - kFrameHeaderSize));
}

// Bounds-checked reading of a payload.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool u32(uint32_t& v) {
    if (in_.size() < 4) return false;
    const auto* p = reinterpret_cast<const uint8_t*>(in_.data());
    v = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
    in_.remove_prefix(4);
    return true;
  }
  bool u64(uint64_t& v) {
    uint32_t hi = 0, lo = 0;
    if (!u32(hi) || !u32(lo)) return false;
    v = (uint64_t{hi} << 32) | lo;
    return true;
  }
  bool str(skiff_str_t& s) {
    uint32_t n = 0;
    if (!u32(n) || n > in_.size()) return false;
    s = skiff_str_t{in_.data(), n};
    in_.remove_prefix(n);
    return true;
  }
  bool headers(std::vector<skiff_header_t>& out) {
    uint32_t n = 0;
    // Each header takes at least 8 bytes: a count beyond that is a lie, not an allocation.
    if (!u32(n) || n > in_.size() / 8) return false;
    out.resize(n);
    for (auto& h : out)
      if (!str(h.name) || !str(h.value)) return false;
    return true;
  }
  bool done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

}  // namespace

void put_frame_header(uint8_t* out, FrameType type, uint32_t length) {
  out[0] = type;
  out[1] = static_cast<uint8_t>(length >> 24);
  out[2] = static_cast<uint8_t>(length >> 16);
  out[3] = static_cast<uint8_t>(length >> 8);
  out[4] = static_cast<uint8_t>(length);
}

FrameHeader parse_frame_header(const uint8_t* in) {
  return FrameHeader{
      in[0], (uint32_t{in[1]} << 24) | (uint32_t{in[2]} << 16) | (uint32_t{in[3]} << 8) | in[4]};
}

void append_call_head(std::string& out, const skiff_call_head_t& h) {
  append_frame(out, kCallHead, [&] {
    put_u64(out, h.timeout_ms);
    for (auto s : {h.target_app_id, h.target_namespace, h.caller_app_id, h.caller_namespace,
                   h.method, h.verb, h.query})
      put_str(out, s);
    put_headers(out, h.headers, h.header_count);
  });
}

void append_response_head(std::string& out, const skiff_response_head_t& h) {
  append_frame(out, kResponseHead, [&] {
    put_u32(out, static_cast<uint32_t>(h.http_status));
    put_headers(out, h.headers, h.header_count);
  });
}

void append_fail(std::string& out, skiff_status_t status, std::string_view message) {
  append_frame(out, kFail, [&] {
    put_u32(out, static_cast<uint32_t>(status));
    put_str(out, skiff_str_t{message.data(), message.size()});
  });
}

bool parse_call_head(std::string_view payload, CallHead& out) {
  Reader r(payload);
  auto& c = out.c;
  c = skiff_call_head_t{};
  c.struct_size = sizeof(skiff_call_head_t);
  if (!r.u64(c.timeout_ms)) return false;
  for (auto* s : {&c.target_app_id, &c.target_namespace, &c.caller_app_id, &c.caller_namespace,
                  &c.method, &c.verb, &c.query})
    if (!r.str(*s)) return false;
  if (!r.headers(out.headers) || !r.done()) return false;
  c.headers = out.headers.data();
  c.header_count = out.headers.size();
  return true;
}

bool parse_response_head(std::string_view payload, ResponseHead& out) {
  Reader r(payload);
  uint32_t status = 0;
  if (!r.u32(status) || status < 100 || status > 999) return false;
  if (!r.headers(out.headers) || !r.done()) return false;
  out.c = skiff_response_head_t{sizeof(skiff_response_head_t), static_cast<int32_t>(status),
                                out.headers.data(), out.headers.size()};
  return true;
}

bool parse_fail(std::string_view payload, skiff_status_t& status, std::string_view& message) {
  Reader r(payload);
  uint32_t code = 0;
  skiff_str_t m{};
  if (!r.u32(code) || code == 0 || code > 16 || !r.str(m) || !r.done()) return false;
  status = static_cast<skiff_status_t>(code);
  message = std::string_view(m.ptr, m.len);
  return true;
}

}  // namespace skiff::tcp_transport::wire
