#include "plugin/middleware_instance.hpp"

#include <spdlog/spdlog.h>

#include <boost/beast/core/string.hpp>
#include <cstddef>

#include "common/http_syntax.hpp"
#include "plugin/bridge.hpp"

namespace skiff {

namespace {

// What a hook decided, copied out of the borrowed verdict.
struct VerdictResult {
  bool reject = false;
  Rejection rejection;
};

// The verdict's members up to `member` were written by the plugin (a plugin built against an
// older minor may pass a shorter struct).
#define SKIFF_VERDICT_HAS(v, member) \
  (offsetof(skiff_mw_verdict_t, member) + sizeof((v)->member) <= (v)->struct_size)

void complete_verdict(void* ud, const skiff_mw_verdict_t* v) {
  VerdictResult r;
  if (v && SKIFF_VERDICT_HAS(v, action) && v->action == SKIFF_MW_REJECT) {
    r.reject = true;
    int status = SKIFF_VERDICT_HAS(v, http_status) ? v->http_status : 0;
    // Only an error status can stand for a refusal; anything else is the plugin's mistake.
    r.rejection.http_status = status >= 400 && status <= 599 ? status : 500;
    if (SKIFF_VERDICT_HAS(v, error_code)) r.rejection.error_code = std::string(view(v->error_code));
    if (SKIFF_VERDICT_HAS(v, message)) r.rejection.message = std::string(view(v->message));
    if (SKIFF_VERDICT_HAS(v, header_count) && v->headers) {
      for (size_t i = 0; i < v->header_count; ++i) {
        std::string name(view(v->headers[i].name)), value(view(v->headers[i].value));
        // Written into the answer to the app: a CR/LF would forge a header there.
        if (auto why = invalid_header(name, value)) {
          spdlog::warn("middleware rejection header dropped: {}", *why);
          continue;
        }
        r.rejection.headers.push_back({std::move(name), std::move(value)});
      }
    }
  }
  static_cast<Completion<VerdictResult>*>(ud)->complete(std::move(r));
}

#undef SKIFF_VERDICT_HAS

void set_header(skiff_mw_call_t* call, skiff_str_t name, skiff_str_t value) {
  call->edits.push_back({HeaderEdit::Op::kSet, std::string(view(name)), std::string(view(value))});
}
void add_header(skiff_mw_call_t* call, skiff_str_t name, skiff_str_t value) {
  call->edits.push_back({HeaderEdit::Op::kAdd, std::string(view(name)), std::string(view(value))});
}
void remove_header(skiff_mw_call_t* call, skiff_str_t name) {
  call->edits.push_back({HeaderEdit::Op::kRemove, std::string(view(name)), {}});
}
int32_t side(skiff_mw_call_t* call) {
  return call->side;
}
void set_state(skiff_mw_call_t* call, void* state, void (*release)(void*)) {
  call->slot->set(state, release);
}
void* state(skiff_mw_call_t* call) {
  return call->slot->get();
}

const skiff_mw_edit_api_t kEditApi{
    sizeof(skiff_mw_edit_api_t), set_header, add_header, remove_header, side, set_state, state};

}  // namespace

const skiff_mw_edit_api_t* middleware_edit_api() {
  return &kEditApi;
}

std::vector<std::string> apply_edits(std::vector<Header>& headers,
                                     const std::vector<HeaderEdit>& edits) {
  std::vector<std::string> dropped;
  auto named = [](const std::string& name) {
    return [&name](const Header& h) { return boost::beast::iequals(h.name, name); };
  };
  for (const auto& e : edits) {
    if (auto why = invalid_header(e.name, e.op == HeaderEdit::Op::kRemove ? "" : e.value)) {
      dropped.push_back(*why);
      continue;
    }
    switch (e.op) {
      case HeaderEdit::Op::kSet:
        std::erase_if(headers, named(e.name));
        headers.push_back({e.name, e.value});
        break;
      case HeaderEdit::Op::kAdd:
        headers.push_back({e.name, e.value});
        break;
      case HeaderEdit::Op::kRemove:
        std::erase_if(headers, named(e.name));
        break;
    }
  }
  return dropped;
}

Result<std::unique_ptr<MiddlewareInstance>> MiddlewareInstance::create(
    const LoadedComponent& component, const skiff_host_api_t* host, const toml::table& config,
    std::string config_prefix) {
  std::unique_ptr<MiddlewareInstance> m(
      new MiddlewareInstance(component, config, std::move(config_prefix)));
  auto st = m->ComponentInstance::create(host, m->vt()->create);
  if (!st) return st.error();
  return m;
}

MiddlewareInstance::~MiddlewareInstance() {
  if (instance_) vt()->destroy(instance_);
}

bool MiddlewareInstance::has_outbound() const {
  return SKIFF_HAS(vt(), skiff_middleware_vtable_v1_t, on_outbound);
}
bool MiddlewareInstance::has_inbound() const {
  return SKIFF_HAS(vt(), skiff_middleware_vtable_v1_t, on_inbound);
}
bool MiddlewareInstance::has_response() const {
  return SKIFF_HAS(vt(), skiff_middleware_vtable_v1_t, on_response);
}

boost::asio::awaitable<std::optional<Rejection>> MiddlewareInstance::request_hook(
    decltype(skiff_middleware_vtable_v1_t::on_outbound) hook, int32_t side, CallHead& head,
    MiddlewareSlot& slot) {
  // The view and the handle live in this frame until the completion fired, as the ABI promises.
  CallHeadView view(head);
  skiff_mw_call_t call{side, &slot, {}};
  auto verdict = co_await await_completion<VerdictResult>([&](Completion<VerdictResult>* c) {
    hook(instance_, &view.c, &call, &kEditApi, complete_verdict, c);
  });
  if (verdict.reject) co_return std::move(verdict.rejection);
  for (const auto& why : apply_edits(head.headers, call.edits))
    spdlog::warn("middleware '{}': header edit dropped: {}", name(), why);
  co_return std::nullopt;
}

boost::asio::awaitable<std::optional<Rejection>> MiddlewareInstance::outbound(
    CallHead& head, MiddlewareSlot& slot) {
  return request_hook(vt()->on_outbound, SKIFF_MW_OUTBOUND, head, slot);
}

boost::asio::awaitable<std::optional<Rejection>> MiddlewareInstance::inbound(CallHead& head,
                                                                             MiddlewareSlot& slot) {
  return request_hook(vt()->on_inbound, SKIFF_MW_INBOUND, head, slot);
}

boost::asio::awaitable<std::optional<Rejection>> MiddlewareInstance::response(
    const CallHead& request, ResponseHead& response, MiddlewareSlot& slot) {
  CallHeadView view(request);
  auto headers = header_views(response.headers);
  skiff_response_head_t head{sizeof(skiff_response_head_t), response.http_status, headers.data(),
                             headers.size()};
  skiff_mw_call_t call{SKIFF_MW_OUTBOUND, &slot, {}};
  auto verdict = co_await await_completion<VerdictResult>([&](Completion<VerdictResult>* c) {
    vt()->on_response(instance_, &view.c, &head, &call, &kEditApi, complete_verdict, c);
  });
  if (verdict.reject) co_return std::move(verdict.rejection);
  for (const auto& why : apply_edits(response.headers, call.edits))
    spdlog::warn("middleware '{}': header edit dropped: {}", name(), why);
  co_return std::nullopt;
}

}  // namespace skiff
