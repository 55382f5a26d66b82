// The plugin loader: finds shared objects on the search path, checks their ABI before running
// any of their code, and catalogues the components they provide. Every refusal is one line that
// names the file and the reason.
#pragma once

#include <boost/dll/shared_library.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "skiff/skiff.h"

namespace skiff {

struct LoadedComponent {
  uint32_t kind = 0;
  std::string type_name;
  const void* vtable = nullptr;
  std::string plugin_name;
  std::string plugin_version;
  skiff_abi_version_t abi{};
  std::filesystem::path file;
  // Every object created from this component holds the library, so it is never unloaded under it.
  std::shared_ptr<boost::dll::shared_library> library;
  // The component's own configuration check (ABI 1.2), or null for an older plugin.
  skiff_status_t (*check_config)(const skiff_host_api_t*, const skiff_config_t*,
                                 skiff_errbuf_t) = nullptr;
};

struct LoadFailure {
  std::filesystem::path file;
  std::string reason;
  std::string line() const { return file.string() + ": " + reason; }
};

std::string_view kind_name(uint32_t kind);

// Configured directories, then SKIFF_PLUGIN_PATH (colon-separated), then the install directory.
std::vector<std::filesystem::path> plugin_search_path(const std::vector<std::string>& configured);
std::filesystem::path plugin_install_dir();

// Loads one shared object; returns its components or why it was refused.
Result<std::vector<LoadedComponent>> load_plugin_file(const std::filesystem::path& file,
                                                      const skiff_host_api_t* host);

class PluginCatalog {
 public:
  // Loads every *.so in the directories, in order. A type name provided twice keeps the first.
  static PluginCatalog discover(const std::vector<std::filesystem::path>& dirs,
                                const skiff_host_api_t* host);

  struct Wanted {
    uint32_t kind;
    std::string type_name;
  };
  // What skiffd uses: for each wanted component, the first skiff-<kind>-<type>.so on the path is
  // loaded alone; only when one is not found that way is every plugin loaded (discover). A
  // plugin maps its libraries and runs their initialisers on load, so loading unused ones cost an
  // idle sidecar 9 MiB with the bundled set installed.
  static PluginCatalog load_wanted(const std::vector<std::filesystem::path>& dirs,
                                   const skiff_host_api_t* host, const std::vector<Wanted>& wanted);

  const LoadedComponent* find(uint32_t kind, std::string_view type_name) const;
  const std::vector<LoadedComponent>& components() const { return components_; }
  const std::vector<LoadFailure>& failures() const { return failures_; }
  // For an error message: "no resolver named 'x' (available: sqlite, static)".
  std::string describe_missing(uint32_t kind, std::string_view type_name) const;

 private:
  std::vector<LoadedComponent> components_;
  std::vector<LoadFailure> failures_;
  std::vector<std::filesystem::path> searched_;
};

}  // namespace skiff
