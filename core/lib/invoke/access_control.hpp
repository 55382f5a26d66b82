// Access control on the callee, with the caller's verified identity, in Dapr's model: a global
// default action, and per calling app (app id, namespace, trust domain) a default action and
// operations. Unlike Dapr, the most specific matching operation wins, not the first listed.
#pragma once

#include <string>
#include <string_view>

#include "config/settings.hpp"
#include "security/spiffe_id.hpp"

namespace skiff {

struct AccessDecision {
  bool allowed = false;
  std::string why;  // for a denial: what was denied, as Dapr words it
};

// `operation` is the method as the app would see it: "/orders/42" for an HTTP call (still
// percent-encoded: it is decoded here), "/pkg.Service/Method" for a proxied gRPC call, whose
// verb is empty (verbs are not matched then).
AccessDecision decide_access(const AccessControl& acl, const SpiffeId& caller,
                             std::string_view operation, std::string_view verb);

}  // namespace skiff
