// Whether an idle keep-alive connection can carry another request.
#pragma once

#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <cerrno>

namespace skiff {

// Usable when it has nothing to read: no EOF (the peer closed it) and no stray bytes. Checked
// before reuse because a streamed request cannot be sent twice.
inline bool still_open(boost::asio::ip::tcp::socket& socket) {
  char byte;
  ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace skiff
