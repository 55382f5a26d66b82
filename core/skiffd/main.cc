// skiffd: the sidecar daemon. A thin main: flags and files to Settings, then the runtime.
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>

#include "config/command_line.hpp"
#include "config/loader.hpp"
#include "runtime/logging.hpp"
#include "runtime/runtime.hpp"
#include "runtime/startup_check.hpp"

int main(int argc, char** argv) {
  CLI::App app{"skiffd: the skiff service-invocation sidecar", "skiffd"};
  std::string config_file;
  std::string app_config_file;
  bool check_config = false;
  bool print_reference = false;
  bool version = false;
  app.add_option("--config", config_file,
                 "skiff TOML file (default: /etc/skiff/skiff.toml plus /etc/skiff/skiff.d/*.toml)");
  // One host, several sidecars (skiffd@<app>.service): the shared files, then the app's own.
  app.add_option("--app-config", app_config_file,
                 "skiff TOML file read after the others, whose keys win (e.g. "
                 "/etc/skiff/apps/<app-id>.toml)");
  app.add_flag("--check-config", check_config, "Validate the configuration and exit");
  app.add_flag("--print-config-reference", print_reference,
               "Print the configuration key table of docs/configuration.md and exit");
  app.add_flag("--version", version, "Print the version and exit");
  skiff::ConfigFlags flags;
  flags.add_to(app);

  auto args = skiff::normalize_go_flags(argc, argv);
  std::reverse(args.begin(), args.end());  // CLI11 takes a reversed vector
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (version) {
    std::cout << "skiffd " << SKIFF_VERSION << " (plugin ABI " << SKIFF_ABI_MAJOR << "."
              << SKIFF_ABI_MINOR << ")\n";
    return 0;
  }
  if (print_reference) {
    std::cout << skiff::render_configuration_reference();
    return 0;
  }

  std::vector<std::string> notes = flags.ignored();
  auto ext = std::filesystem::path(config_file).extension();
  if (ext == ".yaml" || ext == ".yml") {
    // daprd's --config names a Dapr Configuration resource; skiff's configuration is TOML.
    notes.push_back("ignoring " + config_file +
                    ": a Dapr Configuration (YAML) file; skiffd reads TOML");
    config_file.clear();
  }
  // Start-up reads these files, and SIGHUP the same ones again (drop-ins found anew), with the
  // same flags on top.
  auto load = [config_file, app_config_file, given = flags.given()] {
    std::vector<std::filesystem::path> files;
    if (!config_file.empty())
      files.push_back(config_file);
    else
      files = skiff::default_config_files();
    if (!app_config_file.empty()) files.push_back(app_config_file);
    return skiff::load_settings(files, given);
  };
  auto settings = load();
  if (!settings) {
    std::cerr << "skiffd: invalid configuration: " << settings.error().message << "\n";
    return 2;
  }
  if (check_config) {
    // What start-up checks before it listens or registers, so both accept the same files.
    auto checked = skiff::check_startup(*settings);
    if (!checked) {
      std::cerr << "skiffd: invalid configuration: " << checked.error().message << "\n";
      return 2;
    }
    for (const auto& warning : *checked) std::cerr << "skiffd: warning: " << warning << "\n";
    std::cout << "configuration OK";
    if (!settings->sources.empty()) {
      std::cout << " (";
      for (size_t i = 0; i < settings->sources.size(); ++i)
        std::cout << (i ? ", " : "") << settings->sources[i];
      std::cout << ")";
    }
    std::cout << "\n";
    return 0;
  }
  if (!skiff::setup_logging(settings->log_level, settings->log_json, settings->app_id)) {
    std::cerr << "skiffd: invalid log level '" << settings->log_level << "'\n";
    return 2;
  }
  for (const auto& note : notes) spdlog::warn("{}", note);
  // Each app connection, app-channel connection and peer takes a descriptor; the usual soft
  // limit of 1024 is far below what a busy sidecar needs, so use the hard limit.
  if (rlimit files{}; getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  int code = skiff::run_sidecar(*settings, load);
  spdlog::shutdown();  // drains the log queue
  return code;
}
