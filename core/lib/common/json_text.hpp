// JSON text of a value that may carry bytes from the network (an app id, a method, a peer's
// message, a certificate's name): invalid UTF-8 is replaced, where nlohmann::json's dump() would
// throw and end the process.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace skiff {

inline std::string json_text(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace skiff
