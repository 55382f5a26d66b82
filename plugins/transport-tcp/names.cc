#include "names.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

namespace skiff::tcp_transport {
namespace {

constexpr auto kCacheFor = std::chrono::seconds(10);

}  // namespace

bool split_host_port(std::string_view address, HostPort& out) {
  std::string_view host, port;
  if (!address.empty() && address.front() == '[') {
    auto close = address.find(']');
    if (close == std::string_view::npos || close + 1 >= address.size() || address[close + 1] != ':')
      return false;
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    auto colon = address.rfind(':');
    if (colon == std::string_view::npos) return false;
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (host.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 ||
      value > 65535)
    return false;
  out.host = std::string(host);
  out.port = static_cast<uint16_t>(value);
  return true;
}

bool parse_ip(const HostPort& hp, SocketAddress& out) {
  out = SocketAddress{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage);
  if (inet_pton(AF_INET, hp.host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(hp.port);
    out.length = sizeof(sockaddr_in);
    return true;
  }
  out = SocketAddress{};
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
  if (inet_pton(AF_INET6, hp.host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(hp.port);
    out.length = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

NameLookup::~NameLookup() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void NameLookup::lookup(const HostPort& hp, Done done) {
  std::unique_lock lock(mu_);
  auto it = cache_.find(hp.host);
  if (it != cache_.end() && it->second.expires > std::chrono::steady_clock::now()) {
    auto addresses = it->second.addresses;
    lock.unlock();
    for (auto& a : addresses) reinterpret_cast<sockaddr_in*>(&a.storage)->sin_port = htons(hp.port);
    return done(std::move(addresses), "");
  }
  queue_.emplace_back(hp, std::move(done));
  if (!worker_.joinable()) worker_ = std::thread([this] { run(); });
  lock.unlock();
  wake_.notify_one();
}

void NameLookup::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing is waiting for an answer
    auto [hp, done] = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    std::vector<SocketAddress> addresses;
    std::string error;
    int rc = getaddrinfo(hp.host.c_str(), std::to_string(hp.port).c_str(), &hints, &found);
    if (rc != 0) {
      error = "cannot resolve " + hp.host + ": " + gai_strerror(rc);
    } else {
      for (auto* ai = found; ai; ai = ai->ai_next) {
        SocketAddress a;
        std::memcpy(&a.storage, ai->ai_addr, ai->ai_addrlen);
        a.length = ai->ai_addrlen;
        addresses.push_back(a);
      }
      freeaddrinfo(found);
    }
    lock.lock();
    if (error.empty())
      cache_[hp.host] = Entry{addresses, std::chrono::steady_clock::now() + kCacheFor};
    lock.unlock();
    done(std::move(addresses), std::move(error));
    lock.lock();
  }
}

}  // namespace skiff::tcp_transport
