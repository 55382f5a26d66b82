#include "runtime/service_manager.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

namespace skiff {

void notify_service_manager(std::string_view state) {
  const char* socket_name = std::getenv("NOTIFY_SOCKET");
  if (!socket_name || !*socket_name) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const size_t len = std::strlen(socket_name);
  // A path, or a name in the abstract namespace written with a leading '@'.
  if ((socket_name[0] != '/' && socket_name[0] != '@') || len >= sizeof(addr.sun_path)) {
    spdlog::warn("NOTIFY_SOCKET={} is not a socket path: the service manager is not told",
                 socket_name);
    return;
  }
  std::memcpy(addr.sun_path, socket_name, len);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';
  const auto addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    spdlog::warn("cannot tell the service manager {}: {}", state, std::strerror(errno));
    return;
  }
  const auto sent = ::sendto(fd, state.data(), state.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
                             reinterpret_cast<const sockaddr*>(&addr), addr_len);
  if (sent < 0)
    spdlog::warn("cannot tell the service manager ({}): {}", socket_name, std::strerror(errno));
  ::close(fd);
}

}  // namespace skiff
