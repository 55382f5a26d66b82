#include "config/loader.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace skiff {
namespace {

TEST(ConfigLoader, DefaultsNeedNoConfiguration) {
  auto s = load_settings({}, {});
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->http_port, 3500);
  EXPECT_EQ(s->internal_port, 50002);
  EXPECT_EQ(s->max_body_size, 4u << 20);
  EXPECT_EQ(s->resolver_type, "sqlite");
  EXPECT_EQ(s->transport_type, "tcp");
  EXPECT_EQ(s->threads, 1);
}

TEST(ConfigLoader, ReadsTypedValuesFromToml) {
  Settings s;
  auto st = apply_toml_text(s, R"(
[app]
id = "cart"
port = 8080
timeout = "2s"
[api]
http_port = 3600
max_body_size = "8Mi"
[plugins]
paths = ["/opt/a", "/opt/b"]
[resolver]
type = "static"
[resolver.config]
apps = { cart = ["127.0.0.1:1"] }
)",
                            "test.toml");
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(s.app_id, "cart");
  EXPECT_EQ(s.app_port, 8080);
  EXPECT_EQ(s.app_timeout_ms, 2000u);
  EXPECT_EQ(s.http_port, 3600);
  EXPECT_EQ(s.max_body_size, 8u << 20);
  EXPECT_EQ(s.plugin_paths, (std::vector<std::string>{"/opt/a", "/opt/b"}));
  EXPECT_EQ(s.resolver_type, "static");
  EXPECT_TRUE(s.resolver_config.contains("apps"));
}

TEST(ConfigLoader, ObserversKeepTheirOrderTypeTableAndInterval) {
  Settings s;
  auto st = apply_toml_text(s, R"(
[[observers]]
type = "jsonl"
metrics_interval = "15s"
config = { path = "/tmp/a.jsonl" }
[[observers]]
type = "other"
)",
                            "test.toml");
  ASSERT_TRUE(st.ok()) << st.error().message;
  ASSERT_EQ(s.observers.size(), 2u);
  EXPECT_EQ(s.observers[0].type, "jsonl");
  EXPECT_EQ(s.observers[0].metrics_interval_ms, 15000u);
  EXPECT_EQ(s.observers[0].config["path"].value_or(std::string()), "/tmp/a.jsonl");
  EXPECT_EQ(s.observers[0].at, "observers[0]");
  EXPECT_EQ(s.observers[1].type, "other");
  EXPECT_EQ(s.observers[1].metrics_interval_ms, 60000u);
  EXPECT_TRUE(s.observers[1].config.empty());
  EXPECT_EQ(s.where("observers[1].type"), "test.toml:7:8: observers[1].type");
}

TEST(ConfigLoader, BadObserversAreRefusedWithTheirKey) {
  const std::pair<const char*, const char*> cases[] = {
      {"observers = 3\n", "observers: expected an array of tables"},
      {"observers = [1]\n", "observers[0]: expected a table"},
      {"[[observers]]\nconfig = {}\n", "observers[0].type: missing"},
      {"[[observers]]\ntype = \"\"\n", "observers[0].type: expected the type name"},
      {"[[observers]]\ntype = \"x\"\nconfig = 1\n", "observers[0].config: expected a table"},
      {"[[observers]]\ntype = \"x\"\nmetrics_interval = \"soon\"\n",
       "observers[0].metrics_interval: expected a duration"},
      {"[[observers]]\ntype = \"x\"\ncolour = 1\n", "observers[0].colour: unknown key"},
  };
  for (const auto& [text, why] : cases) {
    Settings s;
    auto st = apply_toml_text(s, text, "skiff.toml");
    ASSERT_FALSE(st.ok()) << text;
    EXPECT_NE(st.error().message.find(why), std::string::npos) << st.error().message;
    EXPECT_NE(st.error().message.find("skiff.toml:"), std::string::npos) << st.error().message;
  }
}

TEST(ConfigLoader, UnknownKeyNamesFileLineAndKey) {
  Settings s;
  auto st = apply_toml_text(s, "[app]\nid = \"a\"\nprot = 3\n", "skiff.toml");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("skiff.toml:3:"), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find("app.prot"), std::string::npos);
  EXPECT_NE(st.error().message.find("unknown key"), std::string::npos);
}

TEST(ConfigLoader, UnknownSectionIsRejected) {
  Settings s;
  auto st = apply_toml_text(s, "[nosuch]\nx = 1\n", "skiff.toml");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("nosuch"), std::string::npos);
}

TEST(ConfigLoader, WrongTypeIsRejected) {
  Settings s;
  auto st = apply_toml_text(s, "[app]\nport = \"eighty\"\n", "skiff.toml");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("skiff.toml:2:"), std::string::npos);
  EXPECT_NE(st.error().message.find("expected an integer"), std::string::npos);
}

TEST(ConfigLoader, ANumberKeyTakesIntegersAndFloatsInItsRangeOnly) {
  for (auto [text, rate] : {std::pair{"0", 0.0}, {"1", 1.0}, {"0.25", 0.25}, {"1e-4", 1e-4}}) {
    Settings s;
    auto st =
        apply_toml_text(s, std::string("[tracing]\nsampling_rate = ") + text + "\n", "t.toml");
    ASSERT_TRUE(st.ok()) << text << ": " << st.error().message;
    EXPECT_DOUBLE_EQ(s.tracing_sampling_rate, rate) << text;
  }
  EXPECT_DOUBLE_EQ(Settings{}.tracing_sampling_rate, 1.0);
  for (const char* bad : {"1.5", "-0.1", "nan", "inf", "\"0.5\"", "true"}) {
    Settings s;
    auto st = apply_toml_text(s, std::string("[tracing]\nsampling_rate = ") + bad + "\n", "t.toml");
    ASSERT_FALSE(st.ok()) << bad;
    EXPECT_NE(st.error().message.find("t.toml:2:"), std::string::npos) << st.error().message;
    EXPECT_NE(st.error().message.find("expected a number from 0 to 1"), std::string::npos)
        << st.error().message;
  }
}

TEST(ConfigLoader, OutOfRangeIsRejected) {
  Settings s;
  auto st = apply_toml_text(s, "[api]\nhttp_port = 70000\n", "skiff.toml");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("api.http_port"), std::string::npos);
}

TEST(ConfigLoader, BrokenTomlNamesFileAndLine) {
  Settings s;
  auto st = apply_toml_text(s, "[app\nid = 1\n", "broken.toml");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("broken.toml:1:"), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find("invalid TOML"), std::string::npos);
}

TEST(ConfigLoader, BadEnumValueListsChoices) {
  Settings s;
  auto st = apply_toml_text(s, "[log]\nlevel = \"loud\"\n", "skiff.toml");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("\"debug\""), std::string::npos);
}

TEST(ConfigLoader, FlagsOverrideFiles) {
  auto dir = std::filesystem::temp_directory_path() / ("skiff-cfg-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto file = dir / "skiff.toml";
  std::ofstream(file) << "[app]\nid = \"from-file\"\nport = 1000\n";
  auto s = load_settings({file}, {{find_key("app.port"), "2000"}});
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->app_id, "from-file");
  EXPECT_EQ(s->app_port, 2000);
}

TEST(ConfigLoader, LaterDropInWins) {
  auto dir = std::filesystem::temp_directory_path() / ("skiff-etc-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "skiff.d");
  std::ofstream(dir / "skiff.toml") << "[app]\nid = \"base\"\n";
  std::ofstream(dir / "skiff.d" / "20-b.toml") << "[app]\nid = \"b\"\n";
  std::ofstream(dir / "skiff.d" / "10-a.toml") << "[app]\nid = \"a\"\n";
  auto files = default_config_files(dir);
  auto s = load_settings(files, {});
  std::filesystem::remove_all(dir);
  ASSERT_EQ(files.size(), 3u);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->app_id, "b");
}

TEST(ConfigLoader, BadFlagValueNamesTheFlag) {
  auto s = load_settings({}, {{find_key("api.max_body_size"), "lots"}});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("--max-body-size"), std::string::npos);
}

TEST(ConfigLoader, AppPortWithoutAppIdIsRejected) {
  auto s = load_settings({}, {{find_key("app.port"), "8080"}});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("app.id"), std::string::npos);
}

TEST(ConfigLoader, AppIdWithDotIsRejected) {
  auto s = load_settings({}, {{find_key("app.id"), "a.b"}});
  ASSERT_FALSE(s.ok());
}

TEST(ConfigSchema, EveryKeyIsInTheGeneratedReference) {
  auto ref = render_configuration_reference();
  for (const auto& k : config_schema())
    EXPECT_NE(ref.find("`" + std::string(k.key) + "`"), std::string::npos) << k.key;
}

TEST(ConfigSchema, DocsMatchTheSchema) {
  std::ifstream in(SKIFF_SOURCE_DIR "/docs/configuration.md");
  ASSERT_TRUE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find(render_configuration_reference()), std::string::npos)
      << "docs/configuration.md is out of date: regenerate its table with `skiffd "
         "--print-config-reference`";
}

}  // namespace
}  // namespace skiff
