#include "config/command_line.hpp"

#include <cctype>

namespace skiff {

void ConfigFlags::add_to(CLI::App& app) {
  for (const auto& spec : config_schema()) {
    if (spec.flag.empty()) continue;
    auto slot = std::make_unique<Slot>();
    slot->spec = &spec;
    std::string help = std::string(spec.doc) + " [" + std::string(spec.key) + "]";
    if (spec.kind == KeyKind::kBool) {
      slot->option = app.add_flag(std::string(spec.flag), slot->flag_value, help);
    } else {
      slot->option = app.add_option(std::string(spec.flag), slot->values, help);
      if (spec.kind != KeyKind::kStringList) slot->option->expected(1);
    }
    slots_.push_back(std::move(slot));
  }
  app.add_option("--dapr-http-max-request-size", max_request_mb_,
                 "daprd's older form of --max-body-size, in MB [api.max_body_size]")
      ->expected(1);
  app.add_option("--dapr-http-read-buffer-size", read_buffer_kb_,
                 "daprd's older form of the header size limit, in KB [api.max_header_size]")
      ->expected(1);
  // daprd flags for features skiffd does not have (yet): accepted so that daprd launch scripts
  // start, and reported in the log as ignored.
  static constexpr const char* kIgnored[] = {"--resources-path",
                                             "--components-path",
                                             "--placement-host-address",
                                             "--scheduler-host-address",
                                             "--control-plane-address",
                                             "--sentry-address",
                                             "--mode",
                                             "--enable-mtls",
                                             "--enable-profiling",
                                             "--profile-port",
                                             "--app-max-concurrency",
                                             "--app-ssl",
                                             "--enable-app-health-check",
                                             "--app-health-check-path",
                                             "--app-health-probe-interval",
                                             "--app-health-probe-timeout",
                                             "--app-health-threshold",
                                             "--dapr-public-port",
                                             "--dapr-graceful-shutdown-seconds",
                                             "--dapr-block-shutdown-duration",
                                             "--unix-domain-socket",
                                             "--dapr-internal-grpc-listen-address",
                                             "--allowed-origins"};
  ignored_values_.resize(std::size(kIgnored));
  for (size_t i = 0; i < std::size(kIgnored); ++i) {
    auto* opt = app.add_option(kIgnored[i], ignored_values_[i],
                               "daprd flag accepted for compatibility; ignored")
                    ->expected(0, 1)
                    ->group("daprd compatibility (ignored)");
    ignored_.emplace_back(kIgnored[i], opt);
  }
}

std::vector<std::string> ConfigFlags::ignored() const {
  std::vector<std::string> out;
  for (const auto& [name, opt] : ignored_)
    if (opt->count() > 0)
      out.push_back("ignoring daprd flag " + name + ": skiffd has no such feature yet");
  return out;
}

std::vector<FlagValue> ConfigFlags::given() const {
  std::vector<FlagValue> out;
  for (const auto& slot : slots_) {
    if (slot->option->count() == 0) continue;
    if (slot->spec->kind == KeyKind::kBool) {
      out.push_back({slot->spec, slot->flag_value ? "true" : "false"});
    } else {
      for (const auto& v : slot->values) out.push_back({slot->spec, v});
    }
  }
  auto scaled = [](const std::string& n, const char* unit) {
    return n.find_first_not_of("0123456789") == std::string::npos && !n.empty() ? n + unit : n;
  };
  for (const auto& mb : max_request_mb_)
    out.push_back({find_key("api.max_body_size"), scaled(mb, "Mi")});
  for (const auto& kb : read_buffer_kb_)
    out.push_back({find_key("api.max_header_size"), scaled(kb, "Ki")});
  return out;
}

std::vector<std::string> normalize_go_flags(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.size() > 2 && a[0] == '-' && a[1] != '-' &&
        std::isalpha(static_cast<unsigned char>(a[1])))
      a = "-" + a;
    args.push_back(std::move(a));
  }
  return args;
}

}  // namespace skiff
