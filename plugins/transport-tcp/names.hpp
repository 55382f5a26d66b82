// Peer addresses: "host:port" or "[v6]:port". IP literals are parsed at once; names are looked up
// on one worker thread (getaddrinfo blocks) and cached briefly, never on a host thread.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace skiff::tcp_transport {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
};

struct HostPort {
  std::string host;
  uint16_t port = 0;
};

// False when the text is not host:port with a port in 1..65535.
bool split_host_port(std::string_view address, HostPort& out);
// The address when `host` is an IPv4 or IPv6 literal.
bool parse_ip(const HostPort& hp, SocketAddress& out);

class NameLookup {
 public:
  using Done = std::function<void(std::vector<SocketAddress> addresses, std::string error)>;
  NameLookup() = default;
  ~NameLookup();
  NameLookup(const NameLookup&) = delete;
  NameLookup& operator=(const NameLookup&) = delete;

  // Calls done exactly once, inline from the cache or later from the worker thread.
  void lookup(const HostPort& hp, Done done);

 private:
  struct Entry {
    std::vector<SocketAddress> addresses;
    std::chrono::steady_clock::time_point expires;
  };
  void run();

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::pair<HostPort, Done>> queue_;
  std::unordered_map<std::string, Entry> cache_;
  bool stopping_ = false;
  std::thread worker_;  // started by the first name that is not an IP literal
};

}  // namespace skiff::tcp_transport
