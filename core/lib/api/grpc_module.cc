#include "api/grpc_module.hpp"

#include <dlfcn.h>

#include <filesystem>
#include <mutex>

namespace skiff {

Result<const GrpcModule*> load_grpc_module() {
  static std::once_flag once;
  static Result<const GrpcModule*> loaded = make_error(SKIFF_ERR_INTERNAL, "not loaded");
  std::call_once(once, [] {
    std::error_code ec;
    auto beside =
        std::filesystem::read_symlink("/proc/self/exe", ec).parent_path() / "skiff-grpc.so";
    std::string reasons;
    for (const std::string& path : {beside.string(), std::string(SKIFF_GRPC_MODULE)}) {
      if (!std::filesystem::exists(path, ec)) continue;
      // RTLD_NOW: a missing symbol is reported here, not as a crash in the middle of a call.
      void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!handle) {
        reasons += std::string(reasons.empty() ? "" : "; ") + ::dlerror();
        continue;
      }
      auto* entry = reinterpret_cast<const GrpcModule* (*)()>(::dlsym(handle, "skiff_grpc_module"));
      if (!entry) {
        reasons += "; " + path + ": no skiff_grpc_module";
        continue;
      }
      loaded = entry();  // never unloaded: its objects live until exit
      return;
    }
    loaded = make_error(
        SKIFF_ERR_INTERNAL,
        "the gRPC module (skiff-grpc.so) cannot be loaded: " +
            (reasons.empty() ? "not found next to skiffd nor in " + std::string(SKIFF_GRPC_MODULE)
                             : reasons));
  });
  return loaded;
}

}  // namespace skiff
