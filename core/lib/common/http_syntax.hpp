// What HTTP/1.1 allows in the parts of a message skiff writes (RFC 9110 5.1, 5.5, 9.1; RFC 9112
// 3.2). Every value that reaches a request to an app or an answer to a caller passes one of
// these first: a CR or LF written as it came would end the header early and start a header, or
// a whole request, that nobody sent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace skiff {

// token = 1*tchar: methods and field names.
bool is_http_token(std::string_view s);
// field-value: visible ASCII, obs-text (0x80-0xFF), SP and HTAB; no other control character
// (in particular no CR, LF or NUL).
bool is_http_field_value(std::string_view s);
// The path and query of an origin-form request target: no control character, no SP, no DEL
// (anything else the parser on the other side decides about, as it does for a direct client).
bool is_http_target_part(std::string_view s);

// Whether a field name is `lower_name` as a server may read it: case aside, and with "_" for
// "-" (CGI and WSGI servers map both to one variable). Allocates nothing; it runs per header.
bool names_field(std::string_view name, std::string_view lower_name);

// A Content-Length value: 1*DIGIT that fits 64 bits, or nothing.
std::optional<uint64_t> parse_content_length(std::string_view s);

// Why a header cannot be written, or nothing: "header name 'X' is not a token" and the like.
std::optional<std::string> invalid_header(std::string_view name, std::string_view value);

}  // namespace skiff
