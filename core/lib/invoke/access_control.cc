#include "invoke/access_control.hpp"

#include <algorithm>
#include <optional>
#include <vector>

#include "invoke/target.hpp"

namespace skiff {
namespace {

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    path.remove_prefix(slash == std::string_view::npos ? path.size() : slash);
  }
  return out;
}

// How specific a matching pattern is: more literal segments first, then fewer "**", then
// fewer "*". Higher is more specific.
struct Specificity {
  int literals = 0, double_stars = 0, stars = 0;
  bool operator>(const Specificity& o) const {
    if (literals != o.literals) return literals > o.literals;
    if (double_stars != o.double_stars) return double_stars < o.double_stars;
    return stars < o.stars;
  }
};

bool matches(const std::vector<std::string_view>& pattern, size_t p,
             const std::vector<std::string_view>& path, size_t i) {
  if (p == pattern.size()) return i == path.size();
  if (pattern[p] == "**") {
    for (size_t j = i; j <= path.size(); ++j)
      if (matches(pattern, p + 1, path, j)) return true;
    return false;
  }
  if (i == path.size()) return false;
  if (pattern[p] != "*" && pattern[p] != path[i]) return false;
  return matches(pattern, p + 1, path, i + 1);
}

std::optional<Specificity> match(std::string_view pattern,
                                 const std::vector<std::string_view>& path) {
  auto parts = segments(pattern);
  if (!matches(parts, 0, path, 0)) return std::nullopt;
  Specificity s;
  for (auto part : parts) {
    if (part == "**")
      ++s.double_stars;
    else if (part == "*")
      ++s.stars;
    else
      ++s.literals;
  }
  return s;
}

bool verb_matches(const AccessOperation& op, std::string_view verb) {
  if (verb.empty() || op.verbs.empty()) return true;
  return std::any_of(op.verbs.begin(), op.verbs.end(),
                     [&](const std::string& v) { return v == "*" || v == verb; });
}

}  // namespace

AccessDecision decide_access(const AccessControl& acl, const SpiffeId& caller,
                             std::string_view operation, std::string_view verb) {
  const std::string app = caller.app_id == kAnonymousApp ? std::string() : caller.app_id;
  auto deny = [&](const std::string& reason) {
    return AccessDecision{false, "access control policy has denied access to appid: " +
                                     (app.empty() ? std::string("(none)") : app) +
                                     " operation: " + std::string(operation) +
                                     " verb: " + std::string(verb.empty() ? "(gRPC)" : verb) +
                                     " (" + reason + ")"};
  };
  const AccessPolicy* policy = nullptr;
  for (const auto& p : acl.policies) {
    // load_settings fills acl.trust_domain in from security.trust_domain when it was not given.
    const auto& td = p.trust_domain.empty() ? acl.trust_domain : p.trust_domain;
    if (p.app_id == app && p.app_namespace == caller.app_namespace && td == caller.trust_domain) {
      policy = &p;
      break;
    }
  }
  if (!policy) {
    if (acl.default_allow) return {true, ""};
    return deny("no policy for spiffe://" + caller.trust_domain + "/ns/" + caller.app_namespace +
                "/" + caller.app_id + "; default_action is deny");
  }
  // Matched on the path the app will route on: decoded, and refused when it climbs ("..") or
  // cannot be decoded, since the app could read it as another path.
  auto decoded = percent_decode(operation);
  if (!decoded) return deny("the method is not a valid percent-encoded path");
  auto path = segments(*decoded);
  if (std::any_of(path.begin(), path.end(),
                  [](std::string_view s) { return s == "." || s == ".."; }))
    return deny("the method has . or .. segments");
  const AccessOperation* best = nullptr;
  Specificity best_rank;
  for (const auto& op : policy->operations) {
    if (!verb_matches(op, verb)) continue;
    auto rank = match(op.name, path);
    if (rank && (!best || *rank > best_rank)) {
      best = &op;
      best_rank = *rank;
    }
  }
  if (best)
    return best->allow ? AccessDecision{true, ""} : deny("operation " + best->name + " is denied");
  const bool allow = policy->default_allow.value_or(acl.default_allow);
  if (allow) return {true, ""};
  return deny("no operation matches; the policy's default_action is deny");
}

}  // namespace skiff
