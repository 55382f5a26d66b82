#include "plugin/host_services.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <cstring>
#include <sstream>

#include "common/units.hpp"
#include "plugin/host_io.hpp"

namespace skiff {
namespace {

std::string_view view(skiff_str_t s) {
  return s.len ? std::string_view(s.ptr, s.len) : std::string_view();
}

toml::node_view<const toml::node> lookup(const skiff_config_t* config, skiff_str_t path) {
  if (config == nullptr || config->table == nullptr) return {};
  if (path.len == 0) return toml::node_view<const toml::node>(*config->table);
  return toml::at_path(*config->table, view(path));
}

int32_t config_type(const skiff_config_t* config, skiff_str_t path) {
  auto node = lookup(config, path);
  if (!node) return SKIFF_CONFIG_NONE;
  switch (node.type()) {
    case toml::node_type::string:
      return SKIFF_CONFIG_STRING;
    case toml::node_type::integer:
      return SKIFF_CONFIG_INT;
    case toml::node_type::floating_point:
      return SKIFF_CONFIG_FLOAT;
    case toml::node_type::boolean:
      return SKIFF_CONFIG_BOOL;
    case toml::node_type::array:
      return SKIFF_CONFIG_ARRAY;
    case toml::node_type::table:
      return SKIFF_CONFIG_TABLE;
    default:
      return SKIFF_CONFIG_OTHER;
  }
}

skiff_status_t get_string(const skiff_config_t* config, skiff_str_t path, skiff_str_t* out) {
  auto node = lookup(config, path);
  if (!node) return SKIFF_ERR_NOT_FOUND;
  const auto* s = node.as_string();
  if (!s) return SKIFF_ERR_INVALID_ARGUMENT;
  *out = skiff_str_t{s->get().data(), s->get().size()};
  return SKIFF_OK;
}

skiff_status_t get_int(const skiff_config_t* config, skiff_str_t path, int64_t* out) {
  auto node = lookup(config, path);
  if (!node) return SKIFF_ERR_NOT_FOUND;
  if (!node.is_integer()) return SKIFF_ERR_INVALID_ARGUMENT;
  *out = node.as_integer()->get();
  return SKIFF_OK;
}

skiff_status_t get_float(const skiff_config_t* config, skiff_str_t path, double* out) {
  auto node = lookup(config, path);
  if (!node) return SKIFF_ERR_NOT_FOUND;
  if (node.is_floating_point())
    *out = node.as_floating_point()->get();
  else if (node.is_integer())
    *out = static_cast<double>(node.as_integer()->get());
  else
    return SKIFF_ERR_INVALID_ARGUMENT;
  return SKIFF_OK;
}

skiff_status_t get_bool(const skiff_config_t* config, skiff_str_t path, int32_t* out) {
  auto node = lookup(config, path);
  if (!node) return SKIFF_ERR_NOT_FOUND;
  if (!node.is_boolean()) return SKIFF_ERR_INVALID_ARGUMENT;
  *out = node.as_boolean()->get() ? 1 : 0;
  return SKIFF_OK;
}

skiff_status_t get_duration_ms(const skiff_config_t* config, skiff_str_t path, uint64_t* out) {
  auto node = lookup(config, path);
  if (!node) return SKIFF_ERR_NOT_FOUND;
  if (node.is_integer() && node.as_integer()->get() >= 0) {
    *out = static_cast<uint64_t>(node.as_integer()->get());
    return SKIFF_OK;
  }
  if (!node.is_string()) return SKIFF_ERR_INVALID_ARGUMENT;
  auto ms = parse_duration_ms(node.as_string()->get());
  if (!ms) return SKIFF_ERR_INVALID_ARGUMENT;
  *out = *ms;
  return SKIFF_OK;
}

size_t config_size(const skiff_config_t* config, skiff_str_t path) {
  auto node = lookup(config, path);
  if (const auto* a = node.as_array()) return a->size();
  if (const auto* t = node.as_table()) return t->size();
  return 0;
}

skiff_status_t config_key_at(const skiff_config_t* config, skiff_str_t path, size_t index,
                             skiff_str_t* out) {
  auto node = lookup(config, path);
  const auto* t = node.as_table();
  if (!t) return node ? SKIFF_ERR_INVALID_ARGUMENT : SKIFF_ERR_NOT_FOUND;
  if (index >= t->size()) return SKIFF_ERR_OUT_OF_RANGE;
  // toml::table iterates in key order; "file order" is approximated by source position.
  std::vector<const toml::key*> keys;
  for (const auto& [k, v] : *t) keys.push_back(&k);
  std::stable_sort(keys.begin(), keys.end(), [](const toml::key* a, const toml::key* b) {
    return std::pair(a->source().begin.line, a->source().begin.column) <
           std::pair(b->source().begin.line, b->source().begin.column);
  });
  *out = skiff_str_t{keys[index]->str().data(), keys[index]->str().size()};
  return SKIFF_OK;
}

size_t config_describe(const skiff_config_t* config, skiff_str_t path, char* buf, size_t cap) {
  std::ostringstream out;
  auto node = lookup(config, path);
  const toml::node* where = node ? node.node() : config ? config->table : nullptr;
  if (where && where->source().path)
    out << *where->source().path << ":" << where->source().begin.line << ":"
        << where->source().begin.column << ": ";
  if (config) out << config->prefix;
  if (path.len) out << (config && !config->prefix.empty() ? "." : "") << view(path);
  std::string s = out.str();
  if (buf && cap) {
    size_t n = std::min(s.size(), cap - 1);
    std::memcpy(buf, s.data(), n);
    buf[n] = '\0';
  }
  return s.size();
}

}  // namespace

void fill_config_accessors(skiff_host_api_t& api) {
  api.config_type = config_type;
  api.config_get_string = get_string;
  api.config_get_int = get_int;
  api.config_get_float = get_float;
  api.config_get_bool = get_bool;
  api.config_size = config_size;
  api.config_key_at = config_key_at;
  api.config_describe = config_describe;
  api.config_get_duration_ms = get_duration_ms;
}

HostServices::HostServices(boost::asio::io_context& io) : io_(io) {
  api_.struct_size = sizeof(skiff_host_api_t);
  api_.abi = {SKIFF_ABI_MAJOR, SKIFF_ABI_MINOR};
  api_.host = this;
  api_.log = &HostServices::log;
  api_.post = &HostServices::post;
  api_.timer_start = &HostServices::timer_start;
  api_.timer_cancel = &HostServices::timer_cancel;
  api_.collect_metrics = &HostServices::collect_metrics;
  fill_config_accessors(api_);
  fill_io_functions(api_);
}

void HostServices::log(void*, int32_t level, skiff_str_t component, skiff_str_t message) {
  if (forwarding_log()) return;
  static constexpr spdlog::level::level_enum kLevels[] = {spdlog::level::trace,
                                                          spdlog::level::debug, spdlog::level::info,
                                                          spdlog::level::warn, spdlog::level::err};
  auto lvl = kLevels[std::clamp<int32_t>(level, SKIFF_LOG_TRACE, SKIFF_LOG_ERROR)];
  spdlog::log(lvl, "[{}] {}", view(component), view(message));
}

void HostServices::post(void* host, skiff_task_fn fn, void* user_data) {
  auto* self = static_cast<HostServices*>(host);
  boost::asio::post(self->io_, [fn, user_data] { fn(user_data); });
}

skiff_timer_id_t HostServices::timer_start(void* host, uint64_t delay_ms, skiff_task_fn fn,
                                           void* ud) {
  auto* self = static_cast<HostServices*>(host);
  auto timer = std::make_shared<boost::asio::steady_timer>(self->io_);
  timer->expires_after(std::chrono::milliseconds(delay_ms));
  uint64_t id;
  {
    std::lock_guard lock(self->timers_mu_);
    id = self->next_timer_++;
    self->timers_[id] = timer;
  }
  timer->async_wait([self, id, fn, ud](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled: timer_cancel already removed it
    {
      std::lock_guard lock(self->timers_mu_);
      if (self->timers_.erase(id) == 0) return;
    }
    fn(ud);
  });
  return id;
}

void HostServices::collect_metrics(void* host, skiff_metrics_fn fn, void* user_data) {
  auto* self = static_cast<HostServices*>(host);
  if (!self->metrics_) {
    fn(user_data, nullptr, 0);
    return;
  }
  self->metrics_->collect(
      [&](const skiff_metric_t* const* metrics, size_t count) { fn(user_data, metrics, count); });
}

int32_t HostServices::timer_cancel(void* host, skiff_timer_id_t id) {
  auto* self = static_cast<HostServices*>(host);
  std::shared_ptr<boost::asio::steady_timer> timer;
  {
    std::lock_guard lock(self->timers_mu_);
    auto it = self->timers_.find(id);
    if (it == self->timers_.end()) return 0;
    timer = it->second;
    self->timers_.erase(it);
  }
  timer->cancel();
  return 1;
}

}  // namespace skiff
