#include "plugin/catalog.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "plugin/components.hpp"

namespace skiff {
namespace {

class Catalog : public ::testing::Test {
 protected:
  std::filesystem::path broken(const std::string& name) {
    return std::filesystem::path(SKIFF_BROKEN_PLUGIN_DIR) / (name + ".so");
  }
  std::string refusal(const std::string& name) {
    auto r = load_plugin_file(broken(name), host_.api());
    EXPECT_FALSE(r.ok()) << name << " loaded but should not";
    return r.ok() ? "" : r.error().message;
  }
  boost::asio::io_context io_;
  HostServices host_{io_};
  toml::table empty_;
};

TEST_F(Catalog, MissingFileSaysWhy) {
  auto why = refusal("does_not_exist");
  EXPECT_NE(why.find("cannot load"), std::string::npos) << why;
}

TEST_F(Catalog, SharedObjectWithoutVersionIsNotAPlugin) {
  EXPECT_NE(
      refusal("not_a_plugin").find("not a skiff plugin: missing symbol skiff_plugin_abi_version"),
      std::string::npos);
}

TEST_F(Catalog, MissingEntrySymbolIsRefused) {
  EXPECT_NE(refusal("missing_entry").find("missing symbol skiff_plugin_entry"), std::string::npos);
}

TEST_F(Catalog, WrongMajorIsRefusedBeforeAnyPluginCodeRuns) {
  // The plugin's entry aborts the process if called; reaching the assertion proves it was not.
  auto why = refusal("wrong_major");
  EXPECT_NE(why.find("ABI major mismatch: plugin built for skiff ABI 2.0, this host speaks 1." +
                     std::to_string(SKIFF_ABI_MINOR)),
            std::string::npos)
      << why;
}

TEST_F(Catalog, NullVtableIsRefused) {
  EXPECT_NE(refusal("null_vtable").find("resolver 'null-vtable' has a NULL vtable"),
            std::string::npos);
}

TEST_F(Catalog, TooSmallStructSizeIsRefused) {
  auto why = refusal("small_struct");
  EXPECT_NE(why.find("bad struct size: resolver 'small-struct' vtable is 8 bytes"),
            std::string::npos)
      << why;
}

TEST_F(Catalog, FailingEntryGivesItsMessage) {
  EXPECT_NE(refusal("entry_fails").find("entry failed with status 9: license file missing"),
            std::string::npos);
}

TEST_F(Catalog, NewerMinorOfTheSameMajorLoads) {
  auto r = load_plugin_file(broken("newer_minor"), host_.api());
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].type_name, "newer-minor");
  EXPECT_EQ((*r)[0].abi.minor, 7u);
}

TEST_F(Catalog, OlderMinorComponentIsCheckedByCreatingIt) {
  auto r = load_plugin_file(broken("older_minor"), host_.api());
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  const auto& component = (*r)[0];
  EXPECT_EQ(component.check_config, nullptr);  // its descriptor ends before the member
  EXPECT_TRUE(check_component_config(component, host_.api(), empty_).ok());
  auto bad = toml::parse("bogus = 1\n");
  auto checked = check_component_config(component, host_.api(), bad);
  ASSERT_FALSE(checked.ok());
  EXPECT_NE(checked.error().message.find("create failed: resolver.config.bogus: unknown key"),
            std::string::npos)
      << checked.error().message;
}

TEST_F(Catalog, DiscoverListsComponentsAndRefusalsSeparately) {
  auto catalog = PluginCatalog::discover({SKIFF_BROKEN_PLUGIN_DIR}, host_.api());
  EXPECT_NE(catalog.find(SKIFF_KIND_RESOLVER, "create-fails"), nullptr);
  EXPECT_NE(catalog.find(SKIFF_KIND_RESOLVER, "newer-minor"), nullptr);
  EXPECT_EQ(catalog.find(SKIFF_KIND_RESOLVER, "null-vtable"), nullptr);
  EXPECT_EQ(catalog.failures().size(), 6u);
  auto missing = catalog.describe_missing(SKIFF_KIND_RESOLVER, "nope");
  EXPECT_NE(missing.find("no resolver plugin provides type 'nope'"), std::string::npos) << missing;
}

TEST_F(Catalog, CreateFailureCarriesThePluginsMessage) {
  auto catalog = PluginCatalog::discover({SKIFF_BROKEN_PLUGIN_DIR}, host_.api());
  auto r = ResolverInstance::create(*catalog.find(SKIFF_KIND_RESOLVER, "create-fails"), host_.api(),
                                    empty_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("create failed: cannot reach the registry"), std::string::npos)
      << r.error().message;
}

TEST_F(Catalog, ThrowingPluginDoesNotCrashTheHost) {
  auto catalog = PluginCatalog::discover({SKIFF_BROKEN_PLUGIN_DIR}, host_.api());
  auto r =
      ResolverInstance::create(*catalog.find(SKIFF_KIND_RESOLVER, "throwing"), host_.api(), empty_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("threw a C++ exception"), std::string::npos)
      << r.error().message;
}

TEST_F(Catalog, SdkGuardTurnsExceptionsIntoStatus) {
  auto catalog = PluginCatalog::discover({SKIFF_BROKEN_PLUGIN_DIR}, host_.api());
  auto r = ResolverInstance::create(*catalog.find(SKIFF_KIND_RESOLVER, "guarded-throw"),
                                    host_.api(), empty_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("create failed: bad config value"), std::string::npos)
      << r.error().message;
}

}  // namespace
}  // namespace skiff
