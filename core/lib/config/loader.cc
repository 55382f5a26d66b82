#include "config/loader.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/address_list.hpp"
#include "common/http_syntax.hpp"
#include "common/units.hpp"

namespace skiff {
namespace {

std::string origin(const toml::node& node) {
  const auto& src = node.source();
  std::ostringstream out;
  out << (src.path ? *src.path : std::string("<config>")) << ":" << src.begin.line << ":"
      << src.begin.column;
  return out.str();
}

std::string where(const toml::node& node, std::string_view key) {
  return origin(node) + ": " + std::string(key);
}

Error bad(const std::string& location, const std::string& what) {
  return make_error(SKIFF_ERR_INVALID_ARGUMENT, location + ": " + what);
}

std::string expectation(const KeySpec& spec) {
  switch (spec.kind) {
    case KeyKind::kString:
      return "expected a string";
    case KeyKind::kEnum: {
      std::string s = "expected one of";
      for (auto c : spec.choices) s += " \"" + std::string(c) + "\"";
      return s;
    }
    case KeyKind::kInt:
      return "expected an integer from " + std::to_string(spec.min) + " to " +
             std::to_string(spec.max);
    case KeyKind::kFloat:
      return "expected a number from " + std::to_string(spec.min) + " to " +
             std::to_string(spec.max);
    case KeyKind::kBool:
      return "expected true or false";
    case KeyKind::kSize:
      return "expected a size such as 4194304, \"512Ki\" or \"4Mi\"";
    case KeyKind::kDuration:
      return "expected a duration such as \"500ms\", \"5s\" or \"1m\"";
    case KeyKind::kStringList:
      return "expected an array of strings";
    case KeyKind::kPluginTable:
      return "expected a table";
  }
  return "bad value";
}

// Stores a typed value into the settings field of `spec`. `value` is one of: std::string,
// int64_t, bool, uint64_t, std::vector<std::string>.
template <typename V>
void store(Settings& settings, const KeySpec& spec, V value) {
  std::visit(
      [&](auto member) {
        using F = std::decay_t<decltype(settings.*member)>;
        if constexpr (std::is_same_v<F, V>) settings.*member = std::move(value);
      },
      spec.field);
}

// Converts a textual value (a flag, or a TOML string for sizes and durations). Empty result is OK.
std::optional<std::string> apply_text(Settings& settings, const KeySpec& spec,
                                      std::string_view text) {
  switch (spec.kind) {
    case KeyKind::kString:
      store(settings, spec, std::string(text));
      return std::nullopt;
    case KeyKind::kEnum:
      if (std::find(spec.choices.begin(), spec.choices.end(), text) == spec.choices.end())
        return expectation(spec) + ", got \"" + std::string(text) + "\"";
      store(settings, spec, std::string(text));
      return std::nullopt;
    case KeyKind::kInt: {
      int64_t n = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (ec != std::errc() || end != text.data() + text.size() || n < spec.min || n > spec.max)
        return expectation(spec) + ", got \"" + std::string(text) + "\"";
      store(settings, spec, n);
      return std::nullopt;
    }
    case KeyKind::kFloat: {
      double x = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), x);
      if (ec != std::errc() || end != text.data() + text.size() || !(x >= spec.min) ||
          !(x <= spec.max))
        return expectation(spec) + ", got \"" + std::string(text) + "\"";
      store(settings, spec, x);
      return std::nullopt;
    }
    case KeyKind::kBool:
      if (text == "true" || text == "1")
        store(settings, spec, true);
      else if (text == "false" || text == "0")
        store(settings, spec, false);
      else
        return expectation(spec) + ", got \"" + std::string(text) + "\"";
      return std::nullopt;
    case KeyKind::kSize: {
      auto n = parse_size(text);
      if (!n) return expectation(spec) + ", got \"" + std::string(text) + "\"";
      store(settings, spec, *n);
      return std::nullopt;
    }
    case KeyKind::kDuration: {
      auto n = parse_duration_ms(text);
      if (!n) return expectation(spec) + ", got \"" + std::string(text) + "\"";
      store(settings, spec, *n);
      return std::nullopt;
    }
    case KeyKind::kStringList: {
      std::vector<std::string> items;
      std::string_view rest = text;
      while (!rest.empty()) {
        auto pos = rest.find(',');
        auto item = rest.substr(0, pos);
        if (!item.empty()) items.emplace_back(item);
        if (pos == std::string_view::npos) break;
        rest.remove_prefix(pos + 1);
      }
      std::visit(
          [&](auto member) {
            using F = std::decay_t<decltype(settings.*member)>;
            if constexpr (std::is_same_v<F, std::vector<std::string>>)
              (settings.*member).insert((settings.*member).end(), items.begin(), items.end());
          },
          spec.field);
      return std::nullopt;
    }
    case KeyKind::kPluginTable:
      return expectation(spec);
  }
  return "unsupported";
}

// Plugin tables are moved out of the parsed document: a moved node keeps its source position
// (a copied one does not), which plugins need to name file and line in their errors.
std::optional<std::string> apply_node(Settings& settings, const KeySpec& spec, toml::node& node) {
  settings.explicit_keys.insert_or_assign(std::string(spec.key), origin(node));
  switch (spec.kind) {
    case KeyKind::kString:
    case KeyKind::kEnum:
      if (!node.is_string()) return expectation(spec);
      return apply_text(settings, spec, node.as_string()->get());
    case KeyKind::kInt: {
      if (!node.is_integer()) return expectation(spec);
      int64_t n = node.as_integer()->get();
      if (n < spec.min || n > spec.max) return expectation(spec) + ", got " + std::to_string(n);
      store(settings, spec, n);
      return std::nullopt;
    }
    case KeyKind::kFloat: {
      if (!node.is_number()) return expectation(spec);
      double x = node.is_integer() ? static_cast<double>(node.as_integer()->get())
                                   : node.as_floating_point()->get();
      // NaN fails both comparisons.
      if (!(x >= spec.min) || !(x <= spec.max)) return expectation(spec);
      store(settings, spec, x);
      return std::nullopt;
    }
    case KeyKind::kBool:
      if (!node.is_boolean()) return expectation(spec);
      store(settings, spec, node.as_boolean()->get());
      return std::nullopt;
    case KeyKind::kSize:
    case KeyKind::kDuration:
      if (node.is_integer()) {
        if (node.as_integer()->get() < 0) return expectation(spec);
        store(settings, spec, static_cast<uint64_t>(node.as_integer()->get()));
        return std::nullopt;
      }
      if (!node.is_string()) return expectation(spec);
      return apply_text(settings, spec, node.as_string()->get());
    case KeyKind::kStringList: {
      const auto* arr = node.as_array();
      if (!arr || !arr->is_homogeneous(toml::node_type::string)) {
        if (!(arr && arr->empty())) return expectation(spec);
      }
      std::vector<std::string> items;
      for (const auto& e : *arr) items.push_back(e.as_string()->get());
      store(settings, spec, std::move(items));
      return std::nullopt;
    }
    case KeyKind::kPluginTable: {
      auto* table = node.as_table();
      if (!table) return expectation(spec);
      std::visit(
          [&](auto member) {
            using F = std::decay_t<decltype(settings.*member)>;
            if constexpr (std::is_same_v<F, toml::table>)
              for (auto& [k, v] : *table) (settings.*member).insert_or_assign(k, std::move(v));
          },
          spec.field);
      return std::nullopt;
    }
  }
  return "unsupported";
}

bool is_key_prefix(std::string_view path) {
  std::string prefix = std::string(path) + ".";
  for (const auto& s : config_schema())
    if (s.key.starts_with(prefix)) return true;
  return false;
}

// [[http_endpoints]]: an array of tables, each checked here with file, line and key in errors.
Status read_http_endpoints(Settings& settings, toml::node& node) {
  auto* arr = node.as_array();
  if (!arr)
    return bad(where(node, "http_endpoints"), "expected an array of tables ([[http_endpoints]])");
  for (size_t i = 0; i < arr->size(); ++i) {
    auto& item = (*arr)[i];
    std::string at = "http_endpoints[" + std::to_string(i) + "]";
    auto* t = item.as_table();
    if (!t) return bad(where(item, at), "expected a table");
    HttpEndpointConfig ep;
    for (auto& entry : *t) {
      // Named references, not a structured binding: clang 14 (the fuzz build) cannot capture one.
      const auto& k = entry.first;
      auto& v = entry.second;
      std::string key = at + "." + std::string(k.str());
      auto text = [&](std::string& out) -> Status {
        if (!v.is_string()) return bad(where(v, key), "expected a string");
        out = v.as_string()->get();
        return Ok{};
      };
      Status st = Ok{};
      if (k == "name") {
        st = text(ep.name);
      } else if (k == "base_url") {
        st = text(ep.base_url);
        if (st && !ep.base_url.starts_with("http://") && !ep.base_url.starts_with("https://"))
          return bad(where(v, key), "must start with http:// or https://");
      } else if (k == "ca_file") {
        st = text(ep.ca_file);
      } else if (k == "cert_file") {
        st = text(ep.cert_file);
      } else if (k == "key_file") {
        st = text(ep.key_file);
      } else if (k == "headers") {
        auto* h = v.as_table();
        if (!h) return bad(where(v, key), "expected a table of header names to values");
        for (auto& [hn, hv] : *h) {
          if (!hv.is_string())
            return bad(where(hv, key + "." + std::string(hn.str())), "expected a string");
          // Written into every request to the endpoint: a CR/LF would forge headers there.
          if (auto why = invalid_header(hn.str(), hv.as_string()->get()))
            return bad(where(hv, key + "." + std::string(hn.str())), *why);
          ep.headers.emplace_back(std::string(hn.str()), hv.as_string()->get());
        }
      } else {
        return bad(where(v, key), "unknown key");
      }
      if (!st) return st;
    }
    if (ep.name.empty())
      return bad(where(item, at + ".name"), "missing: every endpoint needs a name");
    if (ep.base_url.empty())
      return bad(where(item, at + ".base_url"), "missing: every endpoint needs a base_url");
    if (ep.cert_file.empty() != ep.key_file.empty())
      return bad(where(item, at + (ep.cert_file.empty() ? ".cert_file" : ".key_file")),
                 "missing: cert_file and key_file go together");
    for (const auto* f : {&ep.ca_file, &ep.cert_file, &ep.key_file})
      if (!f->empty() && !std::filesystem::is_regular_file(*f))
        return bad(where(item, at), "cannot read " + *f);
    for (const auto& other : settings.http_endpoints)
      if (other.name == ep.name)
        return bad(where(item, at + ".name"), "\"" + ep.name + "\" is already defined");
    settings.http_endpoints.push_back(std::move(ep));
  }
  return Ok{};
}

// [[observers]] and [[middleware]]: arrays of tables, each with the type of a plugin component
// (required) and its own table; `extra` reads the other keys an entry may have (false: unknown).
template <typename Entry, typename Extra>
Status read_component_tables(Settings& settings, toml::node& node, const std::string& name,
                             const std::string& kind, std::vector<Entry>& out, Extra extra) {
  auto* arr = node.as_array();
  if (!arr) return bad(where(node, name), "expected an array of tables ([[" + name + "]])");
  for (size_t i = 0; i < arr->size(); ++i) {
    auto& item = (*arr)[i];
    Entry entry;
    entry.at = name + "[" + std::to_string(i) + "]";
    auto* t = item.as_table();
    if (!t) return bad(where(item, entry.at), "expected a table");
    for (auto& kv : *t) {
      const auto& k = kv.first;
      auto& v = kv.second;
      const std::string key = entry.at + "." + std::string(k.str());
      if (k == "type") {
        if (!v.is_string() || v.as_string()->get().empty())
          return bad(where(v, key), "expected the type name of a " + kind + " plugin");
        entry.type = v.as_string()->get();
        settings.explicit_keys.insert_or_assign(key, origin(v));
      } else if (k == "config") {
        auto* c = v.as_table();
        if (!c) return bad(where(v, key), "expected a table (the component's own configuration)");
        // Moved, not copied: the nodes keep their source positions for the plugin's messages.
        for (auto& [ck, cv] : *c) entry.config.insert_or_assign(ck, std::move(cv));
      } else if (auto read = extra(entry, k.str(), v, key); !read) {
        return read.error();
      } else if (!*read) {
        return bad(where(v, key), "unknown key");
      }
    }
    if (entry.type.empty())
      return bad(where(item, entry.at + ".type"), "missing: every " + kind + " needs a type");
    out.push_back(std::move(entry));
  }
  return Ok{};
}

Status read_observers(Settings& settings, toml::node& node) {
  return read_component_tables(
      settings, node, "observers", "observer", settings.observers,
      [](ObserverConfig& observer, std::string_view k, toml::node& v,
         const std::string& key) -> Result<bool> {
        if (k != "metrics_interval") return false;
        auto ms = v.is_string() ? parse_duration_ms(v.as_string()->get()) : std::nullopt;
        if (!ms) return bad(where(v, key), "expected a duration such as \"10s\" or \"1m\"");
        observer.metrics_interval_ms = *ms;
        return true;
      });
}

Status read_middleware(Settings& settings, toml::node& node) {
  return read_component_tables(settings, node, "middleware", "middleware", settings.middleware,
                               [](MiddlewareConfig&, std::string_view, toml::node&,
                                  const std::string&) -> Result<bool> { return false; });
}

// "allow" / "deny" at `key`.
Result<bool> read_action(const toml::node& v, const std::string& key) {
  if (v.is_string() && v.as_string()->get() == "allow") return true;
  if (v.is_string() && v.as_string()->get() == "deny") return false;
  return bad(where(v, key), "expected \"allow\" or \"deny\"");
}

Result<std::string> read_string(const toml::node& v, const std::string& key) {
  if (!v.is_string()) return bad(where(v, key), "expected a string");
  return v.as_string()->get();
}

Status read_operation(AccessOperation& op, toml::node& node, const std::string& at) {
  auto* t = node.as_table();
  if (!t) return bad(where(node, at), "expected a table");
  bool has_action = false;
  for (auto& entry : *t) {
    const auto& k = entry.first;
    auto& v = entry.second;
    const std::string key = at + "." + std::string(k.str());
    if (k == "name") {
      auto s = read_string(v, key);
      if (!s) return s.error();
      if (s->empty() || s->front() != '/')
        return bad(where(v, key), "an operation starts with '/' (\"/orders/*\", \"/pkg.Svc/**\")");
      op.name = *s;
    } else if (k == "http_verbs") {
      auto* arr = v.as_array();
      if (!arr) return bad(where(v, key), "expected an array of verbs such as [\"GET\", \"POST\"]");
      for (auto& item : *arr) {
        auto s = read_string(item, key);
        if (!s) return s.error();
        std::string verb = *s;
        for (auto& c : verb) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        if (verb.empty() || !is_http_token(verb))
          return bad(where(item, key), "\"" + *s + "\" is not an HTTP verb");
        op.verbs.push_back(verb);
      }
    } else if (k == "action") {
      auto a = read_action(v, key);
      if (!a) return a.error();
      op.allow = *a;
      has_action = true;
    } else {
      return bad(where(v, key), "unknown key");
    }
  }
  if (op.name.empty())
    return bad(where(node, at + ".name"), "missing: every operation needs a name");
  if (!has_action) return bad(where(node, at + ".action"), "missing: allow or deny");
  return Ok{};
}

Status read_policy(AccessPolicy& policy, toml::node& node, const std::string& at) {
  auto* t = node.as_table();
  if (!t) return bad(where(node, at), "expected a table ([[access_control.policies]])");
  for (auto& entry : *t) {
    const auto& k = entry.first;
    auto& v = entry.second;
    const std::string key = at + "." + std::string(k.str());
    if (k == "app_id" || k == "namespace" || k == "trust_domain") {
      auto s = read_string(v, key);
      if (!s) return s.error();
      if (s->empty()) return bad(where(v, key), "must not be empty");
      (k == "app_id"      ? policy.app_id
       : k == "namespace" ? policy.app_namespace
                          : policy.trust_domain) = *s;
    } else if (k == "default_action") {
      auto a = read_action(v, key);
      if (!a) return a.error();
      policy.default_allow = *a;
    } else if (k == "operations") {
      auto* arr = v.as_array();
      if (!arr) return bad(where(v, key), "expected an array of tables ([[...operations]])");
      for (size_t i = 0; i < arr->size(); ++i) {
        AccessOperation op;
        auto st = read_operation(op, (*arr)[i], key + "[" + std::to_string(i) + "]");
        if (!st) return st;
        policy.operations.push_back(std::move(op));
      }
    } else {
      return bad(where(v, key), "unknown key");
    }
  }
  if (policy.app_id.empty())
    return bad(where(node, at + ".app_id"), "missing: a policy names the calling app");
  return Ok{};
}

// [access_control]: checked here, whole, with file, line and key in errors.
Status read_access_control(Settings& settings, toml::node& node) {
  auto* t = node.as_table();
  if (!t) return bad(where(node, "access_control"), "expected a table");
  auto& acl = settings.access_control;
  acl.configured = true;
  acl.where = origin(node);
  settings.explicit_keys.insert_or_assign("access_control", acl.where);
  for (auto& entry : *t) {
    const auto& k = entry.first;
    auto& v = entry.second;
    const std::string key = "access_control." + std::string(k.str());
    if (k == "default_action") {
      auto a = read_action(v, key);
      if (!a) return a.error();
      acl.default_allow = *a;
    } else if (k == "trust_domain") {
      auto s = read_string(v, key);
      if (!s) return s.error();
      acl.trust_domain = *s;
      settings.explicit_keys.insert_or_assign("access_control.trust_domain", origin(v));
    } else if (k == "policies") {
      auto* arr = v.as_array();
      if (!arr)
        return bad(where(v, key), "expected an array of tables ([[access_control.policies]])");
      for (size_t i = 0; i < arr->size(); ++i) {
        AccessPolicy policy;
        auto st = read_policy(policy, (*arr)[i], key + "[" + std::to_string(i) + "]");
        if (!st) return st;
        acl.policies.push_back(std::move(policy));
      }
    } else {
      return bad(where(v, key), "unknown key");
    }
  }
  return Ok{};
}

Status walk(Settings& settings, toml::table& table, const std::string& prefix) {
  for (auto& [k, node] : table) {
    std::string path = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (path == "http_endpoints") {
      auto st = read_http_endpoints(settings, node);
      if (!st) return st;
      continue;
    }
    if (path == "observers" || path == "middleware") {
      auto st =
          path == "observers" ? read_observers(settings, node) : read_middleware(settings, node);
      if (!st) return st;
      continue;
    }
    if (path == "access_control") {
      auto st = read_access_control(settings, node);
      if (!st) return st;
      continue;
    }
    if (const KeySpec* spec = find_key(path)) {
      if (auto err = apply_node(settings, *spec, node)) return bad(where(node, path), *err);
      continue;
    }
    if (node.is_table() && is_key_prefix(path)) {
      auto st = walk(settings, *node.as_table(), path);
      if (!st) return st;
      continue;
    }
    return bad(where(node, path), "unknown key");
  }
  return Ok{};
}

bool valid_app_id(std::string_view id) {
  if (id.empty() || id.size() > 253) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

}  // namespace

std::string Settings::effective_advertise_address() const {
  if (!advertise_address.empty()) return advertise_address;
  if (internal_address == "0.0.0.0" || internal_address == "::" || internal_address.empty())
    return "127.0.0.1";
  return internal_address;
}

std::vector<std::filesystem::path> default_config_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  if (std::filesystem::is_regular_file(dir / "skiff.toml", ec)) files.push_back(dir / "skiff.toml");
  std::vector<std::filesystem::path> dropins;
  for (const auto& e : std::filesystem::directory_iterator(dir / "skiff.d", ec))
    if (e.path().extension() == ".toml") dropins.push_back(e.path());
  std::sort(dropins.begin(), dropins.end());
  files.insert(files.end(), dropins.begin(), dropins.end());
  return files;
}

Status apply_toml_text(Settings& settings, std::string_view text, const std::string& source_name) {
  toml::table doc;
  try {
    doc = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    std::ostringstream out;
    out << source_name << ":" << e.source().begin.line << ":" << e.source().begin.column
        << ": invalid TOML: " << e.description();
    return make_error(SKIFF_ERR_INVALID_ARGUMENT, out.str());
  }
  settings.sources.push_back(source_name);
  return walk(settings, doc, "");
}

Status apply_toml_file(Settings& settings, const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in)
    return make_error(SKIFF_ERR_NOT_FOUND, file.string() + ": cannot open configuration file");
  std::ostringstream text;
  text << in.rdbuf();
  return apply_toml_text(settings, text.str(), file.string());
}

Status apply_flag_value(Settings& settings, const KeySpec& spec, std::string_view text) {
  settings.explicit_keys.insert_or_assign(
      std::string(spec.key), spec.flag.empty() ? std::string("flag") : std::string(spec.flag));
  if (auto err = apply_text(settings, spec, text))
    return bad(std::string(spec.flag.empty() ? spec.key : spec.flag), *err);
  return Ok{};
}

// One source of certificates, complete: the local CA, the CA service, or watched files.
static Status validate_identity_source(const Settings& s) {
  auto fail = [&s](std::string_view key, std::string what) { return bad(s.where(key), what); };
  const bool service = !s.ca_address.empty() || !s.ca_bundle.empty() || !s.join_token.empty();
  const bool files = !s.cert_file.empty() || !s.key_file.empty() || !s.bundle_file.empty();
  const char* first_service = !s.ca_address.empty()  ? "security.ca_address"
                              : !s.ca_bundle.empty() ? "security.ca_bundle"
                                                     : "security.join_token";
  const char* first_file = !s.cert_file.empty()  ? "security.cert_file"
                           : !s.key_file.empty() ? "security.key_file"
                                                 : "security.bundle_file";
  if (service && files)
    return fail(first_file, std::string("cannot be used with ") + first_service +
                                ": certificates come from the CA service or from files");
  if ((service || files) && !s.ca_dir.empty())
    return fail("security.ca_dir", std::string("is the local CA; ") +
                                       (service ? first_service : first_file) +
                                       " chooses another source of certificates");
  if ((service || files) && !s.mtls)
    return fail(service ? first_service : first_file, "needs security.mtls = true");
  if (service) {
    if (s.ca_address.empty()) return fail("security.ca_address", "is needed with a CA service");
    if (auto hp = parse_host_port(s.ca_address); !hp)
      return fail("security.ca_address", hp.error().message);
    if (s.ca_bundle.empty())
      return fail(
          "security.ca_bundle",
          "is needed with security.ca_address: the roots the CA service proves itself with");
    if (s.join_token.empty())
      return fail("security.join_token",
                  "is needed with security.ca_address (or SKIFF_JOIN_TOKEN): the CA service "
                  "signs nothing without one");
  }
  if (files)
    for (auto [key, value] : {std::pair{"security.cert_file", &s.cert_file},
                              {"security.key_file", &s.key_file},
                              {"security.bundle_file", &s.bundle_file}})
      if (value->empty())
        return fail(key,
                    "is needed with the other certificate files (cert_file, key_file, "
                    "bundle_file)");
  return Ok{};
}

Status validate_settings(const Settings& s) {
  auto fail = [&s](std::string_view key, std::string what) { return bad(s.where(key), what); };
  if (!s.app_id.empty() && !valid_app_id(s.app_id))
    return fail("app.id",
                "\"" + s.app_id + "\" is not a valid app id (letters, digits, '-' and '_')");
  if (!valid_app_id(s.app_namespace))
    return fail("app.namespace", "\"" + s.app_namespace + "\" is not a valid namespace");
  if (s.app_port != 0 && s.app_id.empty()) return fail("app.id", "required when app.port is set");
  if (s.http_port != 0 && s.http_port == s.internal_port)
    return fail("internal.port", "must differ from api.http_port");
  if (s.max_body_size == 0) return fail("api.max_body_size", "must be greater than 0");
  if (s.max_header_size < 1024) return fail("api.max_header_size", "must be at least 1Ki");
  for (auto key : {s.http_listen_key(), s.grpc_listen_key()}) {
    const auto& list = key == "api.grpc_address"   ? s.grpc_address
                       : key == "api.http_address" ? s.http_address
                                                   : s.listen_addresses;
    if (auto parsed = parse_address_list(list); !parsed) return fail(key, parsed.error().message);
  }
  if (s.resolver_type.empty()) return fail("resolver.type", "must name a resolver");
  if (s.trust_domain.empty() || s.trust_domain.size() > 255 ||
      s.trust_domain.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-_") !=
          std::string::npos)
    return fail("security.trust_domain",
                "\"" + s.trust_domain +
                    "\" is not a trust domain (lower-case letters, digits, "
                    "'.', '-' and '_')");
  if (s.cert_ttl_ms < 2000) return fail("security.cert_ttl", "must be at least 2s");
  if (auto st = validate_identity_source(s); !st) return st;
  // Policies decide on the caller's verified identity; without mTLS there is none, and a policy
  // that quietly allowed everything (as Dapr's does then) would be worse than none.
  // mTLS refuses peers of another trust domain: a policy naming one could never apply, and the
  // calls it was meant for would fall to the default instead.
  if (!s.access_control.trust_domain.empty() && s.access_control.trust_domain != s.trust_domain)
    return fail("access_control.trust_domain",
                "\"" + s.access_control.trust_domain + "\" is not this sidecar's trust domain (\"" +
                    s.trust_domain + "\", security.trust_domain): no caller could match");
  for (size_t i = 0; i < s.access_control.policies.size(); ++i) {
    const auto& td = s.access_control.policies[i].trust_domain;
    if (!td.empty() && td != s.trust_domain)
      return fail("access_control.policies[" + std::to_string(i) + "].trust_domain",
                  "\"" + td + "\" is not this sidecar's trust domain (\"" + s.trust_domain +
                      "\"): mTLS refuses such callers, so the policy could never apply");
  }
  if (s.access_control.configured && !s.mtls)
    return fail("access_control",
                "access-control policies need security.mtls: without it callers cannot be told "
                "apart");
  // Tokens travel as a header and as gRPC metadata: visible ASCII only, or they could not.
  for (auto [key, token] : {std::pair{"api.token", &s.api_token}, {"app.token", &s.app_token}})
    if (token->find_first_of(" \t\r\n") != std::string::npos ||
        std::any_of(token->begin(), token->end(), [](char c) {
          return static_cast<unsigned char>(c) < 0x21 || c == 0x7f ||
                 static_cast<unsigned char>(c) > 0x7e;
        }))
      return fail(key, "a token is visible ASCII characters only (no spaces or control bytes)");
  if (s.transport_type.empty()) return fail("transport.type", "must name a transport");
  return Ok{};
}

namespace {

// OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, as OpenTelemetry's SDKs read them, for the
// traces this sidecar starts (a trace that arrives sampled or not keeps its caller's decision,
// which is what the parent-based samplers do). An unknown sampler is ignored with a warning, as
// the SDKs do.
void apply_otel_sampler(Settings& settings) {
  const char* sampler = std::getenv("OTEL_TRACES_SAMPLER");
  if (!sampler || !*sampler) return;
  std::string_view name(sampler);
  if (name.starts_with("parentbased_")) name.remove_prefix(std::string_view("parentbased_").size());
  if (name == "always_on") {
    settings.tracing_sampling_rate = 1;
  } else if (name == "always_off") {
    settings.tracing_sampling_rate = 0;
  } else if (name == "traceidratio") {
    double rate = 1;
    const char* arg = std::getenv("OTEL_TRACES_SAMPLER_ARG");
    if (arg && *arg) {
      char* end = nullptr;
      rate = std::strtod(arg, &end);
      if (end == arg || *end || !(rate >= 0 && rate <= 1)) {
        spdlog::warn("OTEL_TRACES_SAMPLER_ARG={}: not a ratio between 0 and 1; using 1", arg);
        rate = 1;
      }
    }
    settings.tracing_sampling_rate = rate;
  } else {
    spdlog::warn(
        "OTEL_TRACES_SAMPLER={}: not a sampler skiffd knows; tracing.sampling_rate applies",
        sampler);
  }
}

}  // namespace

Result<Settings> load_settings(const std::vector<std::filesystem::path>& files,
                               const std::vector<FlagValue>& flags) {
  Settings settings;
  apply_otel_sampler(settings);
  if (const char* ns = std::getenv("NAMESPACE"); ns && *ns) settings.app_namespace = ns;
  // Dapr's SDKs read the same variables: an app and its sidecar share them by default.
  if (const char* t = std::getenv("DAPR_API_TOKEN"); t && *t) settings.api_token = t;
  if (const char* t = std::getenv("APP_API_TOKEN"); t && *t) settings.app_token = t;
  if (const char* t = std::getenv("SKIFF_JOIN_TOKEN"); t && *t) settings.join_token = t;
  for (const auto& f : files) {
    auto st = apply_toml_file(settings, f);
    if (!st) return st.error();
  }
  for (const auto& flag : flags) {
    auto st = apply_flag_value(settings, *flag.spec, flag.text);
    if (!st) return st.error();
  }
  auto st = validate_settings(settings);
  if (!st) return st.error();
  // Policies that name no trust domain are for callers of this sidecar's own.
  if (settings.access_control.trust_domain.empty())
    settings.access_control.trust_domain = settings.trust_domain;
  return settings;
}

}  // namespace skiff
