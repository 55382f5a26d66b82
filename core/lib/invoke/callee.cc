#include "invoke/callee.hpp"

#include <spdlog/spdlog.h>

namespace skiff {

namespace asio = boost::asio;

namespace {
constexpr size_t kChunkSize = 64 * 1024;
}

Callee::Callee(const Settings& settings, HttpAppChannel& app) : settings_(settings), app_(app) {}

asio::awaitable<void> Callee::serve(ServerCall call, CallHead head) {
  if (head.target_app_id != settings_.app_id || head.target_namespace != settings_.app_namespace) {
    // A stale resolver entry can point at a port that another app's sidecar now uses. Nothing was
    // delivered, so the caller may safely try another instance: answer "unavailable".
    // Named, not a temporary: GCC 12 mis-destroys temporaries of a ?: inside a co_await.
    const std::string serves = settings_.app_id.empty()
                                   ? std::string("no app")
                                   : settings_.app_id + "." + settings_.app_namespace;
    const std::string why = "the sidecar at this address serves " + serves + ", not " +
                            head.target_app_id + "." + head.target_namespace;
    co_await call.fail(SKIFF_ERR_UNAVAILABLE, why);
    co_return;
  }
  Request req;
  for (;;) {
    auto chunk = co_await call.read();
    if (chunk.status != SKIFF_OK) co_return;  // the caller went away; nothing to answer
    if (req.body().size() + chunk.chunk.size() > settings_.max_body_size) {
      static const std::string too_large = "request body exceeds the callee's max body size";
      co_await call.fail(SKIFF_ERR_RESOURCE_EXHAUSTED, too_large);
      co_return;
    }
    // A body that came in one piece is moved, not copied.
    if (req.body().empty())
      req.body() = std::move(chunk.chunk);
    else
      req.body().append(chunk.chunk);
    if (chunk.end_of_body) break;
  }

  auto verb = http::string_to_verb(head.verb);
  if (verb == http::verb::unknown)
    req.method_string(head.verb);
  else
    req.method(verb);
  std::string target = "/" + head.method;
  if (!head.query.empty()) target += "?" + head.query;
  req.target(target);
  req.version(11);
  copy_end_to_end_headers(head.headers, req.base());

  auto res = co_await app_.send(std::move(req));
  if (!res) {
    spdlog::warn("call from {} to {}/{} failed: {}", head.caller_app_id, head.target_app_id,
                 head.method, res.error().message);
    co_await call.fail(res.error().code, res.error().message);
    co_return;
  }
  ResponseHead out{static_cast<int>(res->result_int()), end_to_end_headers(res->base())};
  // HEAD answers keep the app's Content-Length: it describes the body a GET would have.
  if (head.verb == "HEAD")
    if (auto len = res->find(http::field::content_length); len != res->end())
      out.headers.push_back({"Content-Length", std::string(len->value())});
  if (auto st = co_await call.write_head(out); st.status != SKIFF_OK) co_return;
  std::string_view rest(res->body());
  do {
    auto piece = rest.substr(0, kChunkSize);
    rest.remove_prefix(piece.size());
    if ((co_await call.write(piece, rest.empty())).status != SKIFF_OK) co_return;
  } while (!rest.empty());
}

}  // namespace skiff
