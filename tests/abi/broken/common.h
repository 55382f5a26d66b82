/* Shared pieces of the deliberately broken test plugins: a resolver whose functions do nothing,
 * and the descriptor boilerplate of a plugin with one resolver component. */
#include "skiff/skiff.h"

static skiff_status_t noop_create(const skiff_host_api_t* h, const skiff_config_t* c, void** i,
                                  skiff_errbuf_t e) {
  (void)h;
  (void)c;
  (void)e;
  *i = (void*)1;
  return SKIFF_OK;
}
static void noop_destroy(void* i) {
  (void)i;
}
static void noop_register(void* i, const skiff_registration_t* s, skiff_done_fn d, void* ud) {
  (void)i;
  (void)s;
  d(ud, SKIFF_OK, skiff_str_from_cstr(""));
}
static void noop_deregister(void* i, skiff_done_fn d, void* ud) {
  (void)i;
  d(ud, SKIFF_OK, skiff_str_from_cstr(""));
}
static void noop_resolve(void* i, const skiff_resolve_request_t* r, skiff_resolve_done_fn d,
                         void* ud, uint64_t* op) {
  (void)i;
  (void)r;
  *op = 0;
  d(ud, SKIFF_ERR_NOT_FOUND, NULL, 0, skiff_str_from_cstr("nothing here"));
}

/* A v1 resolver vtable of the given size whose create is `create_fn`. */
#define TEST_RESOLVER_VTABLE(size, create_fn) \
  { (size), (create_fn), noop_destroy, noop_register, noop_deregister, noop_resolve, NULL, NULL }

/* The descriptor and entry function of a plugin with one resolver component `type` whose
 * vtable is the object `vtable_object`. No check_config: skiffd's check mode creates these. */
#define TEST_SINGLE_RESOLVER_PLUGIN(type, vtable_object)                                           \
  static const skiff_component_t component = {sizeof(skiff_component_t), SKIFF_KIND_RESOLVER,      \
                                              type, vtable_object, NULL};                          \
  static const skiff_component_t* const components[] = {&component};                               \
  static const skiff_plugin_info_t info = {sizeof(skiff_plugin_info_t), type, "0", components, 1}; \
  SKIFF_EXPORT skiff_status_t skiff_plugin_entry(                                                  \
      const skiff_host_api_t* h, const skiff_plugin_info_t** out, skiff_errbuf_t e) {              \
    (void)h;                                                                                       \
    (void)e;                                                                                       \
    *out = &info;                                                                                  \
    return SKIFF_OK;                                                                               \
  }
