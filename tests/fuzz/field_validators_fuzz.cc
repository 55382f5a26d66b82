// The validators of what skiff writes into HTTP messages, checked against Beast itself: a head
// that check_call_head accepts is written as a request and parsed back, and the parse must give
// exactly the verb, target and headers that were written (nothing split, nothing added).
#include <boost/beast/http.hpp>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "invoke/call_head_check.hpp"

namespace http = boost::beast::http;

namespace {
// Splits the input at NUL bytes: verb, method, query, then name/value pairs.
std::vector<std::string> parts_of(std::string_view in) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= in.size(); ++i)
    if (i == in.size() || in[i] == '\0') {
      parts.emplace_back(in.substr(start, i - start));
      start = i + 1;
    }
  return parts;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parts = parts_of(std::string_view(reinterpret_cast<const char*>(data), size));
  if (parts.size() < 3) return 0;
  skiff::CallHead head;
  head.verb = parts[0];
  head.method = parts[1];
  head.query = parts[2];
  for (size_t i = 3; i + 1 < parts.size(); i += 2) head.headers.push_back({parts[i], parts[i + 1]});
  if (!skiff::check_call_head(head, skiff::BinaryValues::kChecked)) return 0;

  http::request<http::empty_body> req;
  req.method_string(head.verb);
  std::string target = "/" + head.method;
  if (!head.query.empty()) target += "?" + head.query;
  req.target(target);
  for (const auto& h : head.headers) req.insert(h.name, h.value);
  std::string wire;
  {
    http::request_serializer<http::empty_body> sr(req);
    boost::beast::error_code ec;
    sr.split(false);
    while (!sr.is_done()) {
      sr.next(ec, [&](boost::beast::error_code&, const auto& buffers) {
        for (auto b : boost::beast::buffers_range(buffers))
          wire.append(static_cast<const char*>(b.data()), b.size());
        sr.consume(boost::beast::buffer_bytes(buffers));
      });
      if (ec) std::abort();
    }
  }
  http::request_parser<http::empty_body> parser;
  parser.header_limit(UINT32_MAX);
  parser.body_limit(UINT64_MAX);  // a large Content-Length is a size, not an injection
  boost::beast::error_code ec;
  size_t used = parser.put(boost::asio::buffer(wire), ec);
  // Content-Length and Transfer-Encoding values may be refused by the parser; that is the
  // parser's framing rule, not an injection. Anything else must parse back whole.
  if (ec && ec != http::error::bad_content_length && ec != http::error::bad_transfer_encoding)
    std::abort();
  if (ec) return 0;
  if (!parser.is_header_done()) std::abort();
  const auto& back = parser.get();
  if (back.method_string() != head.verb || back.target() != target) std::abort();
  // Field by field in the order they were written (Beast keeps fields of one name together).
  auto written = req.begin();
  for (const auto& f : back) {
    if (written == req.end()) std::abort();  // a header nobody wrote
    if (f.name_string() != written->name_string()) std::abort();
    // The parser trims optional whitespace around a value; nothing else may change.
    std::string_view v = written->value();
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    if (f.value() != v) std::abort();
    ++written;
  }
  if (written != req.end()) std::abort();
  (void)used;
  return 0;
}
