// `skiff ca ...`: the CA service for sidecars on several machines (see docs/security.md).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace skiff_cli {

struct CaCommands {
  std::string dir;
  std::string trust_domain = "public";
  std::string root_ttl = "3650d", issuer_ttl = "365d";
  std::string listen = "127.0.0.1:7443";
  std::string max_cert_ttl = "24h";
  std::string token_namespace, token_app_id, token_ttl = "0", token_id;
  CLI::App *init = nullptr, *serve = nullptr, *create = nullptr, *list = nullptr, *revoke = nullptr;
};

void add_ca_commands(CLI::App& app, CaCommands& ca);
// The exit code when a `skiff ca` command was given; -1 when none was.
int run_ca_commands(const CaCommands& ca);

}  // namespace skiff_cli
