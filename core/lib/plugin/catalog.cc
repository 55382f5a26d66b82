#include "plugin/catalog.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <boost/dll/import.hpp>
#include <cctype>
#include <cstdlib>

#ifndef SKIFF_PLUGINDIR
#define SKIFF_PLUGINDIR "/usr/local/lib/skiff/plugins"
#endif

namespace skiff {
namespace {

// The smallest vtable each kind must have: every member up to and including the last required one.
size_t min_vtable_size(uint32_t kind) {
  switch (kind) {
    case SKIFF_KIND_RESOLVER:
      return offsetof(skiff_resolver_vtable_v1_t, resolve) + sizeof(void*);
    case SKIFF_KIND_TRANSPORT:
      return offsetof(skiff_transport_vtable_v1_t, server_release) + sizeof(void*);
    case SKIFF_KIND_MIDDLEWARE:
      return offsetof(skiff_middleware_vtable_v1_t, destroy) + sizeof(void*);
    case SKIFF_KIND_OBSERVER:
      return offsetof(skiff_observer_vtable_v1_t, destroy) + sizeof(void*);
  }
  return 0;
}

// Required function pointers of each kind, checked for NULL.
std::string missing_required(uint32_t kind, const void* vtable) {
  auto check = [](std::initializer_list<std::pair<const char*, const void*>> fns) -> std::string {
    for (auto [name, fn] : fns)
      if (fn == nullptr) return name;
    return "";
  };
  switch (kind) {
    case SKIFF_KIND_RESOLVER: {
      auto* v = static_cast<const skiff_resolver_vtable_v1_t*>(vtable);
      return check({{"create", (const void*)v->create},
                    {"destroy", (const void*)v->destroy},
                    {"register_self", (const void*)v->register_self},
                    {"deregister_self", (const void*)v->deregister_self},
                    {"resolve", (const void*)v->resolve}});
    }
    case SKIFF_KIND_TRANSPORT: {
      auto* v = static_cast<const skiff_transport_vtable_v1_t*>(vtable);
      return check({{"create", (const void*)v->create},
                    {"destroy", (const void*)v->destroy},
                    {"listen", (const void*)v->listen},
                    {"shutdown", (const void*)v->shutdown},
                    {"call_start", (const void*)v->call_start},
                    {"call_write", (const void*)v->call_write},
                    {"call_read_head", (const void*)v->call_read_head},
                    {"call_read", (const void*)v->call_read},
                    {"call_cancel", (const void*)v->call_cancel},
                    {"call_release", (const void*)v->call_release},
                    {"server_read", (const void*)v->server_read},
                    {"server_write_head", (const void*)v->server_write_head},
                    {"server_write", (const void*)v->server_write},
                    {"server_fail", (const void*)v->server_fail},
                    {"server_release", (const void*)v->server_release}});
    }
    case SKIFF_KIND_MIDDLEWARE: {
      auto* v = static_cast<const skiff_middleware_vtable_v1_t*>(vtable);
      return check({{"create", (const void*)v->create}, {"destroy", (const void*)v->destroy}});
    }
    case SKIFF_KIND_OBSERVER: {
      auto* v = static_cast<const skiff_observer_vtable_v1_t*>(vtable);
      return check({{"create", (const void*)v->create}, {"destroy", (const void*)v->destroy}});
    }
  }
  return "";
}

Error refuse(std::string reason) {
  return make_error(SKIFF_ERR_FAILED_PRECONDITION, std::move(reason));
}

}  // namespace

std::string_view kind_name(uint32_t kind) {
  switch (kind) {
    case SKIFF_KIND_RESOLVER:
      return "resolver";
    case SKIFF_KIND_TRANSPORT:
      return "transport";
    case SKIFF_KIND_MIDDLEWARE:
      return "middleware";
    case SKIFF_KIND_OBSERVER:
      return "observer";
  }
  return "unknown";
}

std::filesystem::path plugin_install_dir() {
  return SKIFF_PLUGINDIR;
}

std::vector<std::filesystem::path> plugin_search_path(const std::vector<std::string>& configured) {
  std::vector<std::filesystem::path> dirs(configured.begin(), configured.end());
  if (const char* env = std::getenv("SKIFF_PLUGIN_PATH")) {
    std::string_view rest(env);
    while (!rest.empty()) {
      auto pos = rest.find(':');
      if (auto dir = rest.substr(0, pos); !dir.empty()) dirs.emplace_back(dir);
      if (pos == std::string_view::npos) break;
      rest.remove_prefix(pos + 1);
    }
  }
  dirs.push_back(plugin_install_dir());
  return dirs;
}

Result<std::vector<LoadedComponent>> load_plugin_file(const std::filesystem::path& file,
                                                      const skiff_host_api_t* host) {
  auto library = std::make_shared<boost::dll::shared_library>();
  try {
    // The throwing overload keeps dlerror()'s text (the error_code one loses it).
    library->load(file, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    return refuse(std::string("cannot load: ") + e.what());
  }
  if (!library->has(SKIFF_ABI_VERSION_SYMBOL))
    return refuse("not a skiff plugin: missing symbol " SKIFF_ABI_VERSION_SYMBOL);
  const auto& version = library->get<const skiff_abi_version_t>(SKIFF_ABI_VERSION_SYMBOL);
  if (version.major != SKIFF_ABI_MAJOR)
    return refuse("ABI major mismatch: plugin built for skiff ABI " +
                  std::to_string(version.major) + "." + std::to_string(version.minor) +
                  ", this host speaks " + std::to_string(SKIFF_ABI_MAJOR) + "." +
                  std::to_string(SKIFF_ABI_MINOR));
  if (!library->has(SKIFF_ENTRY_SYMBOL)) return refuse("missing symbol " SKIFF_ENTRY_SYMBOL);
  auto& entry = library->get<decltype(skiff_plugin_entry)>(SKIFF_ENTRY_SYMBOL);
  // From here on plugin code runs, and may leave behind threads, atexit handlers or callbacks
  // registered with other libraries: pin it so that it is never unloaded (Boost.DLL has no
  // RTLD_NODELETE of its own).
  dlopen(file.c_str(), RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);

  const skiff_plugin_info_t* info = nullptr;
  char message[512] = "";
  skiff_status_t status = SKIFF_ERR_INTERNAL;
  try {
    status = entry(host, &info, skiff_errbuf_t{message, sizeof message});
  } catch (...) {
    return refuse("entry function threw a C++ exception across the plugin boundary");
  }
  if (status != SKIFF_OK)
    return refuse("entry failed with status " + std::to_string(status) + ": " + message);
  if (info == nullptr) return refuse("entry returned no plugin descriptor");
  constexpr size_t kMinInfo = offsetof(skiff_plugin_info_t, component_count) + sizeof(size_t);
  if (info->struct_size < kMinInfo)
    return refuse("bad struct size: skiff_plugin_info_t is " + std::to_string(info->struct_size) +
                  " bytes, at least " + std::to_string(kMinInfo) + " needed");
  if (info->component_count > 0 && info->components == nullptr)
    return refuse("descriptor lists " + std::to_string(info->component_count) +
                  " components but no component array");

  std::vector<LoadedComponent> out;
  for (size_t i = 0; i < info->component_count; ++i) {
    const skiff_component_t* c = info->components[i];
    std::string which = "component #" + std::to_string(i);
    if (c == nullptr) return refuse(which + " is NULL");
    constexpr size_t kMinComponent = offsetof(skiff_component_t, vtable) + sizeof(void*);
    if (c->struct_size < kMinComponent)
      return refuse("bad struct size: " + which + " skiff_component_t is " +
                    std::to_string(c->struct_size) + " bytes, at least " +
                    std::to_string(kMinComponent) + " needed");
    if (c->type_name == nullptr || *c->type_name == '\0')
      return refuse(which + " has no type name");
    which = std::string(kind_name(c->kind)) + " '" + c->type_name + "'";
    if (min_vtable_size(c->kind) == 0)
      return refuse(which + ": unknown component kind " + std::to_string(c->kind));
    if (c->vtable == nullptr) return refuse(which + " has a NULL vtable");
    uint32_t vt_size = *static_cast<const uint32_t*>(c->vtable);
    if (vt_size < min_vtable_size(c->kind))
      return refuse("bad struct size: " + which + " vtable is " + std::to_string(vt_size) +
                    " bytes, at least " + std::to_string(min_vtable_size(c->kind)) + " needed");
    if (auto fn = missing_required(c->kind, c->vtable); !fn.empty())
      return refuse(which + ": required function '" + fn + "' is NULL");
    out.push_back(
        LoadedComponent{c->kind, c->type_name, c->vtable, info->name ? info->name : "",
                        info->version ? info->version : "", version, file, library,
                        SKIFF_HAS(c, skiff_component_t, check_config) ? c->check_config : nullptr});
  }
  if (out.empty()) return refuse("plugin provides no components");
  return out;
}

PluginCatalog PluginCatalog::discover(const std::vector<std::filesystem::path>& dirs,
                                      const skiff_host_api_t* host) {
  PluginCatalog catalog;
  catalog.searched_ = dirs;
  std::vector<std::filesystem::path> seen;
  for (const auto& dir : dirs) {
    std::error_code ec;
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec))
      if (e.path().extension() == ".so" && e.is_regular_file(ec)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      auto canonical = std::filesystem::weakly_canonical(f, ec);
      if (std::find(seen.begin(), seen.end(), canonical) != seen.end()) continue;
      seen.push_back(canonical);
      auto loaded = load_plugin_file(f, host);
      if (!loaded) {
        catalog.failures_.push_back({f, loaded.error().message});
        continue;
      }
      for (auto& c : *loaded)
        if (!catalog.find(c.kind, c.type_name)) catalog.components_.push_back(std::move(c));
    }
  }
  return catalog;
}

PluginCatalog PluginCatalog::load_wanted(const std::vector<std::filesystem::path>& dirs,
                                         const skiff_host_api_t* host,
                                         const std::vector<Wanted>& wanted) {
  PluginCatalog catalog;
  catalog.searched_ = dirs;
  for (const auto& w : wanted) {
    // A type name that could not be a file name of its own goes straight to the full scan.
    bool plain =
        !w.type_name.empty() && std::all_of(w.type_name.begin(), w.type_name.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
        });
    const std::string file = "skiff-" + std::string(kind_name(w.kind)) + "-" + w.type_name + ".so";
    for (const auto& dir : plain ? dirs : std::vector<std::filesystem::path>{}) {
      std::error_code ec;
      if (!std::filesystem::is_regular_file(dir / file, ec)) continue;
      auto loaded = load_plugin_file(dir / file, host);
      if (!loaded) {
        catalog.failures_.push_back({dir / file, loaded.error().message});
        break;
      }
      for (auto& c : *loaded)
        if (!catalog.find(c.kind, c.type_name)) catalog.components_.push_back(std::move(c));
      break;
    }
    if (catalog.find(w.kind, w.type_name)) continue;
    // Named otherwise: load every plugin. What was found by name stays what it is, so the choice
    // of one component does not depend on whether another was found by name.
    auto all = discover(dirs, host);
    for (auto& c : all.components_)
      if (!catalog.find(c.kind, c.type_name)) catalog.components_.push_back(std::move(c));
    for (auto& f : all.failures_) {
      bool known = std::any_of(catalog.failures_.begin(), catalog.failures_.end(),
                               [&](const LoadFailure& k) { return k.file == f.file; });
      if (!known) catalog.failures_.push_back(std::move(f));
    }
    break;  // every plugin is loaded now
  }
  return catalog;
}

const LoadedComponent* PluginCatalog::find(uint32_t kind, std::string_view type_name) const {
  for (const auto& c : components_)
    if (c.kind == kind && c.type_name == type_name) return &c;
  return nullptr;
}

std::string PluginCatalog::describe_missing(uint32_t kind, std::string_view type_name) const {
  std::string msg = "no " + std::string(kind_name(kind)) + " plugin provides type '" +
                    std::string(type_name) + "' (available:";
  bool any = false;
  for (const auto& c : components_)
    if (c.kind == kind) msg += std::string(any ? ", " : " ") + c.type_name, any = true;
  msg += any ? ")" : " none)";
  for (const auto& f : failures_) msg += "; refused " + f.line();
  msg += "; searched:";
  for (const auto& d : searched_) msg += " " + d.string();
  msg += " (add directories with plugins.paths or SKIFF_PLUGIN_PATH)";
  return msg;
}

}  // namespace skiff
