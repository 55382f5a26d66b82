// Dapr's protobuf messages as skiffd decodes them: InvokeServiceRequest (app id, method, HTTP
// extension, content type) as the gRPC API turns it into a call head, and the AppCallback answer
// a gRPC app sends back.
#include <cstdint>
#include <string>

#include "dapr_api.pb.h"
#include "invoke/call_head_check.hpp"
#include "invoke/target.hpp"

namespace rt = dapr::proto::runtime::v1;
namespace common = dapr::proto::common::v1;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) {
    common::InvokeResponse res;
    if (res.ParseFromString(bytes)) (void)res.data().value().size();
    return 0;
  }
  rt::InvokeServiceRequest req;
  if (!req.ParseFromString(bytes)) return 0;
  auto target = skiff::split_app_id(req.id(), "default");
  if (!target) return 0;
  const auto& msg = req.message();
  auto method = skiff::normalize_method(skiff::encode_method(msg.method()));
  if (!method) return 0;
  skiff::CallHead head;
  head.target_app_id = target->app_id;
  head.method = *method;
  head.verb = "POST";
  head.query = msg.http_extension().querystring();
  if (!msg.content_type().empty()) head.headers.push_back({"Content-Type", msg.content_type()});
  (void)skiff::check_call_head(head, skiff::BinaryValues::kSkipped);
  return 0;
}
