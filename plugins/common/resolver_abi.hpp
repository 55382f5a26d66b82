// The C ABI side of a bundled resolver: the vtable trampolines, the component and plugin tables
// and the two exported symbols. A resolver class provides register_self, deregister_self,
// resolve and report_unavailable; its plugin file provides create() and check_config() (both
// parse the configuration) and one SKIFF_BUNDLED_RESOLVER line.
#ifndef SKIFF_PLUGINS_COMMON_RESOLVER_ABI_HPP
#define SKIFF_PLUGINS_COMMON_RESOLVER_ABI_HPP

#include "bundled_plugin.hpp"
#include "skiff/plugin.hpp"

namespace skiff::plugins {

template <typename Resolver>
struct ResolverAbi {
  static Resolver* self(void* instance) { return static_cast<Resolver*>(instance); }

  static void destroy(void* instance) { delete self(instance); }
  static void register_self(void* instance, const skiff_registration_t* registration,
                            skiff_done_fn done, void* ud) {
    self(instance)->register_self(registration, done, ud);
  }
  static void deregister_self(void* instance, skiff_done_fn done, void* ud) {
    self(instance)->deregister_self(done, ud);
  }
  // Every bundled resolver answers from its cache or completes later by itself: nothing to cancel.
  static void resolve(void* instance, const skiff_resolve_request_t* req,
                      skiff_resolve_done_fn done, void* ud, uint64_t* op_id) {
    *op_id = 0;
    self(instance)->resolve(req, done, ud);
  }
  static void report_unavailable(void* instance, skiff_str_t app_id, skiff_str_t ns,
                                 skiff_str_t address) {
    self(instance)->report_unavailable(sdk::view(app_id), sdk::view(ns), sdk::view(address));
  }

  static constexpr skiff_resolver_vtable_v1_t vtable(skiff_status_t (*create)(
      const skiff_host_api_t*, const skiff_config_t*, void**, skiff_errbuf_t)) {
    return {sizeof(skiff_resolver_vtable_v1_t),
            create,
            destroy,
            register_self,
            deregister_self,
            resolve,
            nullptr,
            report_unavailable};
  }
};

}  // namespace skiff::plugins

// Defines the plugin `plugin_name` with one resolver component `type_name` backed by `Class`,
// created by `create_fn`; `check_fn` checks a configuration as `create_fn` would, starting
// nothing. Use once, at namespace scope, outside any namespace.
#define SKIFF_BUNDLED_RESOLVER(Class, create_fn, check_fn, type_name, plugin_name)              \
  namespace {                                                                                   \
  constexpr skiff_resolver_vtable_v1_t kResolverVtable =                                        \
      skiff::plugins::ResolverAbi<Class>::vtable(create_fn);                                    \
  const skiff_component_t kResolverComponent = {sizeof(skiff_component_t), SKIFF_KIND_RESOLVER, \
                                                type_name, &kResolverVtable, check_fn};         \
  }                                                                                             \
  SKIFF_BUNDLED_PLUGIN(kResolverComponent, plugin_name)

#endif  // SKIFF_PLUGINS_COMMON_RESOLVER_ABI_HPP
