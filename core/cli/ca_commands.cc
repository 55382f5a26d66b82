#include "ca_commands.hpp"

#include <signal.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <ctime>
#include <iomanip>
#include <iostream>

#include "ca/ca_directory.hpp"
#include "ca/ca_server.hpp"
#include "ca/join_tokens.hpp"
#include "common/address_list.hpp"
#include "common/units.hpp"
#include "runtime/logging.hpp"
#include "security/spiffe_id.hpp"

namespace skiff_cli {
namespace {

namespace asio = boost::asio;

bool duration(const std::string& what, const std::string& text, std::chrono::seconds& out) {
  auto ms = skiff::parse_duration_ms(text);
  if (!ms) {
    std::cerr << "skiff ca: " << what << ": \"" << text << "\" is not a duration (e.g. 24h, 30d)\n";
    return false;
  }
  out = std::chrono::seconds(*ms / 1000);
  return true;
}

std::string utc(int64_t t) {
  if (t == 0) return "never";
  std::time_t tt = t;
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int fail(const std::string& message) {
  std::cerr << "skiff ca: " << message << "\n";
  return 1;
}

int run_init(const CaCommands& ca) {
  std::chrono::seconds root, issuer;
  if (!duration("--root-ttl", ca.root_ttl, root) ||
      !duration("--issuer-ttl", ca.issuer_ttl, issuer))
    return 2;
  if (auto st = skiff::init_ca_directory(ca.dir, ca.trust_domain, root, issuer); !st)
    return fail(st.error().message);
  std::cout << "CA for trust domain " << ca.trust_domain << " in " << ca.dir << "\n"
            << "give sidecars " << ca.dir << "/bundle.crt (security.ca_bundle) and a join token "
            << "(skiff ca token create); root.key can now be moved offline\n";
  return 0;
}

int run_token_create(const CaCommands& ca) {
  std::chrono::seconds ttl{};
  if (!duration("--ttl", ca.token_ttl, ttl)) return 2;
  // 0 means "until revoked": a lifetime under a second must not round down to it.
  if (ttl.count() == 0 && skiff::parse_duration_ms(ca.token_ttl).value_or(0) != 0)
    return fail("--ttl: at least 1s, or 0 for a token that works until it is revoked");
  // Only names a SPIFFE ID can carry, so that a token never covers what no sidecar can be.
  auto probe = skiff::parse_spiffe_id(skiff::spiffe_uri(
      "probe", ca.token_namespace, ca.token_app_id.empty() ? "probe" : ca.token_app_id));
  if (!probe) return fail("--namespace / --app-id: not a namespace or app id");
  auto store = skiff::JoinTokenStore::open(std::filesystem::path(ca.dir) / "tokens.db");
  if (!store) return fail(store.error().message);
  auto token = (*store)->create(ca.token_namespace, ca.token_app_id, ttl.count());
  if (!token) return fail(token.error().message);
  std::cout << *token << "\n";
  return 0;
}

int run_token_list(const CaCommands& ca) {
  auto store = skiff::JoinTokenStore::open(std::filesystem::path(ca.dir) / "tokens.db");
  if (!store) return fail(store.error().message);
  auto tokens = (*store)->list();
  if (!tokens) return fail(tokens.error().message);
  std::cout << std::left << std::setw(18) << "ID" << std::setw(20) << "NAMESPACE" << std::setw(20)
            << "APP ID" << std::setw(22) << "CREATED" << std::setw(22) << "EXPIRES"
            << "STATE\n";
  for (const auto& t : *tokens)
    std::cout << std::left << std::setw(18) << t.id << std::setw(20) << t.app_namespace
              << std::setw(20) << (t.app_id.empty() ? "*" : t.app_id) << std::setw(22)
              << utc(t.created) << std::setw(22) << utc(t.expires)
              << (t.revoked ? "revoked" : "active") << "\n";
  return 0;
}

int run_token_revoke(const CaCommands& ca) {
  auto store = skiff::JoinTokenStore::open(std::filesystem::path(ca.dir) / "tokens.db");
  if (!store) return fail(store.error().message);
  if (auto st = (*store)->revoke(ca.token_id); !st) return fail(st.error().message);
  std::cout << "revoked " << ca.token_id << "\n";
  return 0;
}

int run_serve(const CaCommands& ca) {
  skiff::setup_logging("info", false, "skiff-ca");
  std::chrono::seconds max_ttl;
  if (!duration("--max-cert-ttl", ca.max_cert_ttl, max_ttl)) return 2;
  if (max_ttl.count() < 1) return fail("--max-cert-ttl must be at least 1s");
  auto hp = skiff::parse_host_port(ca.listen);
  if (!hp) return fail("--listen: " + hp.error().message);
  boost::system::error_code ec;
  auto address = asio::ip::make_address(hp->host, ec);
  if (ec) return fail("--listen: \"" + hp->host + "\" is not an IP address");
  asio::io_context io;
  auto server = skiff::CaServer::start(
      io, skiff::CaServerOptions{ca.dir, asio::ip::tcp::endpoint(address, hp->port), max_ttl});
  if (!server) return fail(server.error().message);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int) { io.stop(); });
  std::cout << "skiff CA serving on " << hp->host << ":" << (*server)->port() << std::endl;
  io.run();
  return 0;
}

}  // namespace

void add_ca_commands(CLI::App& app, CaCommands& ca) {
  auto* root = app.add_subcommand("ca", "The CA service for sidecars on several machines");
  root->require_subcommand(1);
  ca.init = root->add_subcommand("init", "Make a CA directory: a root, an issuing CA, a bundle");
  ca.init->add_option("--dir", ca.dir, "The CA directory (owner-only)")->required();
  ca.init->add_option("--trust-domain", ca.trust_domain, "SPIFFE trust domain")
      ->capture_default_str();
  ca.init->add_option("--root-ttl", ca.root_ttl, "Lifetime of the root")->capture_default_str();
  ca.init->add_option("--issuer-ttl", ca.issuer_ttl, "Lifetime of the issuing CA")
      ->capture_default_str();

  ca.serve = root->add_subcommand("serve", "Sign sidecars' certificate requests over TLS");
  ca.serve->add_option("--dir", ca.dir, "The CA directory")->required();
  ca.serve->add_option("--listen", ca.listen, "Address and port to listen on")
      ->capture_default_str();
  ca.serve->add_option("--max-cert-ttl", ca.max_cert_ttl, "Longest certificate lifetime given")
      ->capture_default_str();

  auto* token = root->add_subcommand("token", "Join tokens");
  token->require_subcommand(1);
  ca.create = token->add_subcommand("create", "Make a join token; it is printed only once");
  ca.create->add_option("--dir", ca.dir, "The CA directory")->required();
  ca.create->add_option("--namespace", ca.token_namespace, "Namespace the token covers")
      ->required();
  ca.create->add_option("--app-id", ca.token_app_id, "Only this app id (default: any)");
  ca.create->add_option("--ttl", ca.token_ttl, "How long the token works (0: until revoked)")
      ->capture_default_str();
  ca.list = token->add_subcommand("list", "List join tokens (never their secrets)");
  ca.list->add_option("--dir", ca.dir, "The CA directory")->required();
  ca.revoke = token->add_subcommand("revoke", "Revoke a join token");
  ca.revoke->add_option("--dir", ca.dir, "The CA directory")->required();
  ca.revoke->add_option("id", ca.token_id, "The token's id (or the whole token)")->required();
}

int run_ca_commands(const CaCommands& ca) {
  if (ca.init->parsed()) return run_init(ca);
  if (ca.serve->parsed()) return run_serve(ca);
  if (ca.create->parsed()) return run_token_create(ca);
  if (ca.list->parsed()) return run_token_list(ca);
  if (ca.revoke->parsed()) return run_token_revoke(ca);
  return -1;
}

}  // namespace skiff_cli
