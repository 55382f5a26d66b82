#include "call/rejection.hpp"

#include "common/json_text.hpp"

namespace skiff {

RejectionAnswer answer_for(const Rejection& rejection) {
  RejectionAnswer a;
  a.body = json_text(
      nlohmann::json{{"errorCode", rejection.error_code.empty() ? "ERR_MIDDLEWARE_REJECTED"
                                                                : rejection.error_code},
                     {"message", rejection.message}});
  a.head.http_status = rejection.http_status;
  a.head.headers = rejection.headers;
  a.head.headers.push_back({"Content-Type", "application/json"});
  a.head.headers.push_back({"Content-Length", std::to_string(a.body.size())});
  return a;
}

}  // namespace skiff
