// A request body read piece by piece (an app's HTTP connection, ...), for calls that stream.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>
#include <string_view>

namespace skiff {

struct BodyPiece {
  bool ok = true;
  std::string_view data;  // valid until the next read
  bool last = false;
  std::string error;  // why the body could not be read, when !ok
};

class BodySource {
 public:
  virtual boost::asio::awaitable<BodyPiece> read_some() = 0;

 protected:
  ~BodySource() = default;
};

}  // namespace skiff
