#include "invoke/call_head_check.hpp"

#include <boost/beast/core/string.hpp>

#include "common/http_syntax.hpp"

namespace skiff {

Status check_call_head(const CallHead& head, BinaryValues binary) {
  auto refuse = [](std::string why) {
    return make_error(SKIFF_ERR_INVALID_ARGUMENT, "invalid request: " + why);
  };
  if (!is_http_token(head.verb)) return refuse("the HTTP verb is empty or not a token");
  if (!is_http_target_part(head.method))
    return refuse("the method contains a space or a control character");
  if (!is_http_target_part(head.query))
    return refuse("the query string contains a space or a control character");
  std::optional<uint64_t> length;
  for (const auto& h : head.headers) {
    if (boost::beast::iequals(h.name, "Content-Length")) {
      auto n = parse_content_length(h.value);
      if (!n || (length && *length != *n)) return refuse("malformed or conflicting Content-Length");
      length = n;
    }
    const bool raw = binary == BinaryValues::kSkipped && h.name.ends_with("-bin");
    if (auto why = invalid_header(h.name, raw ? std::string_view() : std::string_view(h.value)))
      return refuse(*why);
  }
  return Ok{};
}

}  // namespace skiff
