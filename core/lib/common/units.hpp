// Parsing of human-written sizes ("4Mi", "512KB", "1048576") and durations ("500ms", "5s").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace skiff {

// Bytes from a size with an optional unit: B, K/KB, Ki/KiB, M/MB, Mi/MiB, G/GB, Gi/GiB.
std::optional<uint64_t> parse_size(std::string_view text);
// Milliseconds from a duration: ms, s, m, h, d, or a bare integer of milliseconds.
std::optional<uint64_t> parse_duration_ms(std::string_view text);
std::string format_size(uint64_t bytes);
std::string format_duration_ms(uint64_t ms);

}  // namespace skiff
