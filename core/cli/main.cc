// skiff: the command-line tool. `skiff invoke` calls an app through the local sidecar,
// `skiff plugins list` shows what the loader finds, `skiff config check` validates configuration,
// `skiff identity` shows the sidecar's workload identity and `skiff ca` runs the CA service.
#include <CLI/CLI.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ca_commands.hpp"
#include "config/loader.hpp"
#include "plugin/catalog.hpp"
#include "plugin/host_services.hpp"
#include "runtime/startup_check.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

struct InvokeOptions {
  std::string app_id;
  std::string method;
  std::string verb = "POST";
  std::string data;
  std::string data_file;
  std::vector<std::string> headers;
  int sidecar_port = 0;
  std::string sidecar_address = "127.0.0.1";
  int timeout_s = 60;
};

int sidecar_port_or_env(int port) {
  if (port != 0) return port;
  const char* env = std::getenv("DAPR_HTTP_PORT");
  return env ? std::atoi(env) : 3500;
}

// Sends `req` to the sidecar and reads the answer; false (and a line on stderr) when that failed.
bool exchange(const std::string& what, const std::string& address, int port,
              http::request<http::string_body>& req, int timeout_s,
              http::response<http::string_body>& res) {
  // As Dapr's SDKs do: the app's token, when its sidecar requires one.
  if (const char* token = std::getenv("DAPR_API_TOKEN"); token && *token)
    req.set("dapr-api-token", token);
  req.prepare_payload();
  asio::io_context io;
  beast::tcp_stream stream(io);
  boost::system::error_code ec;
  asio::ip::tcp::resolver resolver(io);
  auto endpoints = resolver.resolve(address, std::to_string(port), ec);
  stream.expires_after(std::chrono::seconds(timeout_s));
  if (!ec) stream.connect(endpoints, ec);
  if (ec) {
    std::cerr << "skiff " << what << ": cannot reach the sidecar at " << address << ":" << port
              << ": " << ec.message() << "\n";
    return false;
  }
  http::write(stream, req, ec);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  parser.skip(req.method() == http::verb::head);
  if (!ec) http::read(stream, buffer, parser, ec);
  if (ec) {
    std::cerr << "skiff " << what << ": " << ec.message() << "\n";
    return false;
  }
  res = parser.release();
  return true;
}

// This sidecar's workload identity, from its metadata.
int run_identity(int sidecar_port, const std::string& address) {
  int port = sidecar_port_or_env(sidecar_port);
  http::request<http::string_body> req{http::verb::get, "/v1.0/metadata", 11};
  req.set(http::field::host, address + ":" + std::to_string(port));
  http::response<http::string_body> res;
  if (!exchange("identity", address, port, req, 10, res)) return 1;
  if (res.result_int() != 200) {
    std::cerr << "skiff identity: HTTP " << res.result_int() << ": " << res.body() << "\n";
    return 1;
  }
  auto body = nlohmann::json::parse(res.body(), nullptr, false);
  if (body.is_discarded() || !body.contains("identity") || !body["identity"].is_object()) {
    std::cerr << "skiff identity: the sidecar reports no identity (mTLS off?)\n";
    return 1;
  }
  const auto& id = body["identity"];
  std::cout << "spiffe id:  " << id.value("spiffeId", "") << "\n"
            << "expires:    " << id.value("expiry", "") << "\n"
            << "renews:     " << id.value("renewal", "when the watched certificate files change")
            << "\n";
  return 0;
}

int run_invoke(const InvokeOptions& o) {
  std::string body = o.data;
  if (!o.data_file.empty()) {
    std::ifstream in(o.data_file, std::ios::binary);
    if (!in) {
      std::cerr << "skiff invoke: cannot read " << o.data_file << "\n";
      return 2;
    }
    std::ostringstream s;
    s << in.rdbuf();
    body = s.str();
  }
  int port = sidecar_port_or_env(o.sidecar_port);
  std::string method = o.method;
  while (!method.empty() && method.front() == '/') method.erase(0, 1);

  http::request<http::string_body> req;
  auto verb = http::string_to_verb(o.verb);
  if (verb == http::verb::unknown)
    req.method_string(o.verb);
  else
    req.method(verb);
  req.target("/v1.0/invoke/" + o.app_id + "/method/" + method);
  req.version(11);
  req.set(http::field::host, o.sidecar_address + ":" + std::to_string(port));
  req.set(http::field::user_agent, "skiff-cli/" SKIFF_VERSION);
  bool has_content_type = false;
  for (const auto& h : o.headers) {
    auto colon = h.find(':');
    if (colon == std::string::npos || colon == 0) {
      std::cerr << "skiff invoke: --header expects NAME:VALUE, got '" << h << "'\n";
      return 2;
    }
    std::string name = h.substr(0, colon), value = h.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    has_content_type = has_content_type || beast::iequals(name, "content-type");
    req.insert(name, value);
  }
  if (!body.empty() && !has_content_type) req.set(http::field::content_type, "application/json");
  req.body() = body;
  http::response<http::string_body> res;
  if (!exchange("invoke", o.sidecar_address, port, req, o.timeout_s, res)) return 1;
  if (res.result_int() >= 400) {
    std::cerr << "skiff invoke: HTTP " << res.result_int() << ": " << res.body() << "\n";
    return 1;
  }
  std::cout << res.body();
  if (!res.body().empty() && res.body().back() != '\n') std::cout << "\n";
  return 0;
}

int run_plugins_list(const std::vector<std::string>& dirs, const std::string& config_file) {
  std::vector<std::string> configured = dirs;
  if (!config_file.empty()) {
    auto settings = skiff::load_settings({config_file}, {});
    if (!settings) {
      std::cerr << "skiff: invalid configuration: " << settings.error().message << "\n";
      return 2;
    }
    configured.insert(configured.end(), settings->plugin_paths.begin(),
                      settings->plugin_paths.end());
  }
  asio::io_context io;
  skiff::HostServices host(io);
  auto catalog = skiff::PluginCatalog::discover(skiff::plugin_search_path(configured), host.api());
  // Columns as wide as their longest entry, so long plugin names never run into the next one.
  size_t type_width = 4, plugin_width = 6;
  for (const auto& c : catalog.components()) {
    type_width = std::max(type_width, c.type_name.size());
    plugin_width = std::max(plugin_width, c.plugin_name.size() + 1 + c.plugin_version.size());
  }
  auto w = [](size_t n) { return static_cast<int>(n + 2); };
  std::cout << std::left << std::setw(12) << "KIND" << std::setw(w(type_width)) << "TYPE"
            << std::setw(6) << "ABI" << std::setw(w(plugin_width)) << "PLUGIN"
            << "FILE\n";
  for (const auto& c : catalog.components()) {
    std::string abi = std::to_string(c.abi.major) + "." + std::to_string(c.abi.minor);
    std::cout << std::left << std::setw(12) << skiff::kind_name(c.kind) << std::setw(w(type_width))
              << c.type_name << std::setw(6) << abi << std::setw(w(plugin_width))
              << (c.plugin_name + " " + c.plugin_version) << c.file.string() << "\n";
  }
  for (const auto& f : catalog.failures()) std::cerr << "refused: " << f.line() << "\n";
  return catalog.failures().empty() ? 0 : 1;
}

int run_config_check(const std::string& config_file) {
  std::vector<std::filesystem::path> files;
  if (!config_file.empty())
    files.push_back(config_file);
  else
    files = skiff::default_config_files();
  auto settings = skiff::load_settings(files, {});
  if (!settings) {
    std::cerr << "skiff: invalid configuration: " << settings.error().message << "\n";
    return 2;
  }
  // The configured plugins check their own tables, as at skiffd's start.
  auto checked = skiff::check_startup(*settings);
  if (!checked) {
    std::cerr << "skiff: invalid configuration: " << checked.error().message << "\n";
    return 2;
  }
  for (const auto& warning : *checked) std::cerr << "skiff: warning: " << warning << "\n";
  std::cout << "configuration OK\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"skiff: command-line tool for the skiff sidecar", "skiff"};
  app.require_subcommand(1);

  InvokeOptions invoke;
  auto* inv = app.add_subcommand("invoke", "Invoke a method of an app through the local sidecar");
  inv->add_option("--app-id,-a", invoke.app_id, "Target app id (app or app.namespace)")->required();
  inv->add_option("--method,-m", invoke.method, "Method path, e.g. orders/42")->required();
  inv->add_option("--verb,-v", invoke.verb, "HTTP verb")->capture_default_str();
  auto* data = inv->add_option("--data,-d", invoke.data, "Request body");
  inv->add_option("--data-file", invoke.data_file, "Read the request body from a file")
      ->excludes(data);
  inv->add_option("--header,-H", invoke.headers, "Extra header NAME:VALUE (repeatable)");
  inv->add_option("--sidecar-port,-p", invoke.sidecar_port,
                  "HTTP port of the local sidecar (default $DAPR_HTTP_PORT or 3500)");
  inv->add_option("--sidecar-address", invoke.sidecar_address, "Address of the local sidecar")
      ->capture_default_str();
  inv->add_option("--timeout", invoke.timeout_s, "Seconds to wait for the answer")
      ->capture_default_str();

  auto* plugins = app.add_subcommand("plugins", "Inspect plugins");
  plugins->require_subcommand(1);
  std::vector<std::string> plugin_dirs;
  std::string plugins_config;
  auto* list = plugins->add_subcommand("list", "List the components the plugin loader finds");
  list->add_option("--plugin-dir", plugin_dirs, "Extra directory to search first (repeatable)");
  list->add_option("--config", plugins_config,
                   "Also search the plugin paths of this configuration file");

  auto* config = app.add_subcommand("config", "Configuration tools");
  config->require_subcommand(1);
  std::string check_file;
  auto* check = config->add_subcommand("check", "Validate configuration files");
  check->add_option("--config", check_file, "File to check (default: /etc/skiff)");

  int identity_port = 0;
  std::string identity_address = "127.0.0.1";
  auto* identity = app.add_subcommand("identity", "Show the local sidecar's workload identity");
  identity->add_option("--sidecar-port,-p", identity_port,
                       "HTTP port of the local sidecar (default $DAPR_HTTP_PORT or 3500)");
  identity->add_option("--sidecar-address", identity_address, "Address of the local sidecar")
      ->capture_default_str();

  skiff_cli::CaCommands ca;
  skiff_cli::add_ca_commands(app, ca);

  CLI11_PARSE(app, argc, argv);
  if (int code = skiff_cli::run_ca_commands(ca); code >= 0) return code;
  if (identity->parsed()) return run_identity(identity_port, identity_address);
  if (inv->parsed()) return run_invoke(invoke);
  if (list->parsed()) return run_plugins_list(plugin_dirs, plugins_config);
  if (check->parsed()) return run_config_check(check_file);
  return 2;
}
