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
  return out;
}

std::vector<std::string> normalize_go_flags(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.size() > 2 && a[0] == '-' && a[1] != '-' && std::isalpha(static_cast<unsigned char>(a[1])))
      a = "-" + a;
    args.push_back(std::move(a));
  }
  return args;
}

}  // namespace skiff
