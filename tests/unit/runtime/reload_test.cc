// plan_reload: which changes a reload applies, which wait for a restart (and keep their value),
// and what it refuses.
#include "runtime/reload.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "config/loader.hpp"

namespace skiff {
namespace {

Settings settings_from(const std::string& text) {
  Settings s;
  auto applied = apply_toml_text(s, text, "skiff.toml");
  EXPECT_TRUE(applied) << applied.error().message;
  return s;
}

bool has(const std::vector<std::string>& list, std::string_view text) {
  return std::any_of(list.begin(), list.end(),
                     [&](const std::string& item) { return item.find(text) != std::string::npos; });
}

constexpr const char* kPolicy = R"(
[access_control]
default_action = "deny"
[[access_control.policies]]
app_id = "order"
default_action = "allow"
)";

TEST(ReloadPlan, NothingChangedAppliesNothingAndKeepsNothing) {
  const Settings in_force = settings_from(std::string("[app]\nid = \"cart\"\n") + kPolicy);
  auto plan = plan_reload(in_force, in_force);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_TRUE(plan->applied.empty());
  EXPECT_TRUE(plan->kept.empty());
  EXPECT_FALSE(plan->http_endpoints_changed);
}

TEST(ReloadPlan, ReloadableKeysAndSectionsTakeTheirNewValues) {
  const Settings in_force = settings_from("[log]\nlevel = \"info\"\n");
  auto plan = plan_reload(in_force, settings_from(std::string(R"(
[log]
level = "debug"
api_calls = true
[api]
token = "t"
[invoke]
unavailable_retries = 0
[[http_endpoints]]
name = "shop"
base_url = "http://127.0.0.1:8080"
)") + kPolicy));
  ASSERT_TRUE(plan) << plan.error().message;
  for (auto key : {"log.level", "log.api_calls", "api.token", "invoke.unavailable_retries",
                   "http_endpoints", "access_control"})
    EXPECT_TRUE(has(plan->applied, key)) << key;
  EXPECT_TRUE(plan->kept.empty());
  EXPECT_TRUE(plan->http_endpoints_changed);
  EXPECT_EQ(plan->next.log_level, "debug");
  EXPECT_EQ(plan->next.api_token, "t");
  EXPECT_EQ(plan->next.unavailable_retries, 0);
  ASSERT_EQ(plan->next.access_control.policies.size(), 1u);
  ASSERT_EQ(plan->next.http_endpoints.size(), 1u);
}

TEST(ReloadPlan, PortsAndPluginsKeepTheirValueAndAreNamedWithWhereTheyChanged) {
  const Settings in_force = settings_from("[api]\nhttp_port = 3500\n");
  auto plan = plan_reload(in_force, settings_from(R"([api]
http_port = 3600
[transport]
type = "grpc"
[log]
level = "warn"
[[middleware]]
type = "apikey"
)"));
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_TRUE(has(plan->kept, "skiff.toml:2:13: api.http_port"));
  EXPECT_TRUE(has(plan->kept, "transport.type"));
  EXPECT_TRUE(has(plan->kept, "middleware"));
  EXPECT_EQ(plan->next.http_port, 3500);
  EXPECT_EQ(plan->next.transport_type, "tcp");
  EXPECT_TRUE(plan->next.middleware.empty());
  EXPECT_EQ(plan->applied, std::vector<std::string>{"log.level"});
  EXPECT_FALSE(plan->resolver_changed);
}

TEST(ReloadPlan, ANewResolverTypeOrTableIsApplied) {
  const Settings in_force = settings_from("[resolver.config]\npath = \"/a.db\"\n");
  auto plan = plan_reload(in_force, settings_from("[resolver.config]\npath = \"/b.db\"\n"));
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_TRUE(plan->resolver_changed);
  EXPECT_EQ(plan->applied, std::vector<std::string>{"resolver.config"});
  EXPECT_EQ(plan->next.resolver_config["path"].value_or(std::string()), "/b.db");
  plan = plan_reload(in_force, settings_from("[resolver]\ntype = \"mdns\"\n"));
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_TRUE(plan->resolver_changed);
  EXPECT_TRUE(has(plan->applied, "resolver.type"));
  EXPECT_EQ(plan->next.resolver_type, "mdns");
  // The same table again, elsewhere in the file: nothing to replace.
  plan = plan_reload(in_force, settings_from("# moved\n\n[resolver.config]\npath = \"/a.db\"\n"));
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_FALSE(plan->resolver_changed);
}

TEST(ReloadPlan, APolicyWhileMtlsStaysOffIsRefused) {
  const Settings in_force = settings_from("[security]\nmtls = false\n");
  // The new file turns mTLS on for its policy, but mTLS changes only with a restart.
  auto plan =
      plan_reload(in_force, settings_from(std::string("[security]\nmtls = true\n") + kPolicy));
  ASSERT_FALSE(plan);
  EXPECT_NE(plan.error().message.find("security.mtls"), std::string::npos) << plan.error().message;
  EXPECT_NE(plan.error().message.find("until a restart"), std::string::npos);
}

TEST(ReloadPlan, MovingTheAccessControlTableInTheFileChangesNothing) {
  const Settings in_force = settings_from(kPolicy);
  auto plan = plan_reload(in_force, settings_from(std::string("\n\n# moved\n") + kPolicy));
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_TRUE(plan->applied.empty());
}

}  // namespace
}  // namespace skiff
