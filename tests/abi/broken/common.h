/* Shared pieces of the deliberately broken test plugins: a resolver whose functions do nothing. */
#include "skiff/skiff.h"

static skiff_status_t noop_create(const skiff_host_api_t* h, const skiff_config_t* c, void** i, skiff_errbuf_t e) {
  (void)h; (void)c; (void)e;
  *i = (void*)1;
  return SKIFF_OK;
}
static void noop_destroy(void* i) { (void)i; }
static void noop_register(void* i, const skiff_registration_t* s, skiff_done_fn d, void* ud) {
  (void)i; (void)s;
  d(ud, SKIFF_OK, skiff_str_from_cstr(""));
}
static void noop_deregister(void* i, skiff_done_fn d, void* ud) {
  (void)i;
  d(ud, SKIFF_OK, skiff_str_from_cstr(""));
}
static void noop_resolve(void* i, const skiff_resolve_request_t* r, skiff_resolve_done_fn d, void* ud, uint64_t* op) {
  (void)i; (void)r;
  *op = 0;
  d(ud, SKIFF_ERR_NOT_FOUND, NULL, 0, skiff_str_from_cstr("nothing here"));
}
