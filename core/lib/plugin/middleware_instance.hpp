// The C++ face of a middleware component: its hooks as awaitables, with the edit table and the
// per-call state of ABI 1.5 behind them.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "call/call_head.hpp"
#include "call/rejection.hpp"
#include "plugin/components.hpp"
#include "skiff/middleware.h"

namespace skiff {

// One middleware's state for one call on one side (set_state): released exactly once, when it is
// replaced or when the slot goes.
class MiddlewareSlot {
 public:
  MiddlewareSlot() = default;
  MiddlewareSlot(const MiddlewareSlot&) = delete;
  MiddlewareSlot& operator=(const MiddlewareSlot&) = delete;
  MiddlewareSlot(MiddlewareSlot&& other) noexcept
      : state_(std::exchange(other.state_, nullptr)),
        release_(std::exchange(other.release_, nullptr)) {}
  ~MiddlewareSlot() { release(); }
  void set(void* state, void (*release)(void*)) {
    this->release();
    state_ = state;
    release_ = release;
  }
  void* get() const { return state_; }
  void release() {
    if (release_) release_(state_);
    state_ = nullptr;
    release_ = nullptr;
  }

 private:
  void* state_ = nullptr;
  void (*release_)(void*) = nullptr;
};

// An edit a hook asked for; applied when its completion fires.
struct HeaderEdit {
  enum class Op { kSet, kAdd, kRemove } op;
  std::string name, value;
};
// Applies `edits` in order. An edit whose name is not a token or whose value has a control
// character is dropped (a header is never written from it), and its reason returned.
std::vector<std::string> apply_edits(std::vector<Header>& headers,
                                     const std::vector<HeaderEdit>& edits);

}  // namespace skiff

// The handle a hook gets; the host's, opaque to plugins.
struct skiff_mw_call_t {
  int32_t side;
  skiff::MiddlewareSlot* slot;
  std::vector<skiff::HeaderEdit> edits;
};

namespace skiff {

// The edit table the host hands to every hook (exposed for tests).
const skiff_mw_edit_api_t* middleware_edit_api();

class MiddlewareInstance : public ComponentInstance {
 public:
  // `config_prefix` names its table in messages ("middleware[0].config").
  static Result<std::unique_ptr<MiddlewareInstance>> create(const LoadedComponent& component,
                                                            const skiff_host_api_t* host,
                                                            const toml::table& config,
                                                            std::string config_prefix);
  ~MiddlewareInstance();

  const std::string& name() const { return component_.type_name; }
  bool has_outbound() const;
  bool has_inbound() const;
  bool has_response() const;

  // Each runs its hook and applies the edits it made on CONTINUE; a REJECT comes back as the
  // rejection, and edits are then dropped.
  boost::asio::awaitable<std::optional<Rejection>> outbound(CallHead& head, MiddlewareSlot& slot);
  boost::asio::awaitable<std::optional<Rejection>> inbound(CallHead& head, MiddlewareSlot& slot);
  boost::asio::awaitable<std::optional<Rejection>> response(const CallHead& request,
                                                            ResponseHead& response,
                                                            MiddlewareSlot& slot);

 private:
  using ComponentInstance::ComponentInstance;
  const skiff_middleware_vtable_v1_t* vt() const {
    return static_cast<const skiff_middleware_vtable_v1_t*>(component_.vtable);
  }
  boost::asio::awaitable<std::optional<Rejection>> request_hook(
      decltype(skiff_middleware_vtable_v1_t::on_outbound) hook, int32_t side, CallHead& head,
      MiddlewareSlot& slot);
};

}  // namespace skiff
