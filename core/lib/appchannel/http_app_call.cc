// One call from the transport, translated into an HTTP/1.1 request to the app, and the app's
// answer translated back into the call model.
#include <spdlog/spdlog.h>

#include "appchannel/http_app_channel.hpp"
#include "invoke/call_head_check.hpp"
#include "invoke/caller.hpp"

namespace skiff {

namespace asio = boost::asio;

asio::awaitable<void> HttpAppChannel::serve(ServerCall& call, CallHead& head) {
  if (is_grpc_proxy(head)) {
    static const std::string why =
        "gRPC proxy mode needs a gRPC app: the target's sidecar has app.protocol = http";
    co_await call.fail(SKIFF_ERR_UNIMPLEMENTED, why);
    co_return;
  }
  // Binary gRPC metadata reaches an HTTP app base64-encoded, as gRPC carries it over HTTP/2.
  encode_binary_values(head.headers);
  // Nothing of a head that HTTP does not allow is written: refused before the body is read.
  if (auto checked = check_call_head(head, BinaryValues::kChecked); !checked) {
    spdlog::warn("call from {} to {}/{} refused: {}", head.caller_app_id, head.target_app_id,
                 head.method, checked.error().message);
    co_await call.fail(checked.error().code, checked.error().message);
    co_return;
  }
  auto first = co_await call.read();
  if (first.status != SKIFF_OK) co_return;  // the caller went away; nothing to answer

  AppExchange::AppRequest req;
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
  if (auto length = content_length_of(head.headers)) req.content_length(*length);

  // The request flows to the app piece by piece as the transport delivers it.
  AppExchange app(*this);
  auto sent = co_await app.start(req, first.chunk, first.end_of_body);
  for (bool last = first.end_of_body; sent && !last;) {
    auto chunk = co_await call.read();
    if (chunk.status != SKIFF_OK) co_return;  // the caller went away; the app call is dropped
    last = chunk.end_of_body;
    sent = co_await app.write(chunk.chunk, last);
  }
  // No ?: around co_await here: GCC 12 mis-destroys the temporaries of one.
  Result<const http::response_header<>*> answer = Error{};
  if (sent) {
    answer = co_await app.read_head();
  } else if (app.connected() && sent.error().code != SKIFF_ERR_INVALID_ARGUMENT) {
    // The app may have answered early (401, 413, ...) and stopped reading: its answer, if it
    // is there, says more than the failed write. (A request refused before it was written
    // whole has no answer coming.)
    answer = co_await app.read_head();
    if (!answer) answer = sent.error();
  } else {
    answer = sent.error();
  }
  if (!answer) {
    spdlog::warn("call from {} to {}/{} failed: {}", head.caller_app_id, head.target_app_id,
                 head.method, answer.error().message);
    co_await call.fail(answer.error().code, answer.error().message);
    co_return;
  }
  const auto& res = **answer;
  // Content-Length travels along so the caller's app sees the same framing (for HEAD: the size
  // of the body a GET would have).
  ResponseHead out{static_cast<int>(res.result_int()), end_to_end_headers(res)};
  if (auto len = res.find(http::field::content_length); len != res.end())
    out.headers.push_back({"Content-Length", std::string(len->value())});
  auto piece = co_await app.read_some();
  if (!piece) {
    co_await call.fail(piece.error().code, piece.error().message);
    co_return;
  }
  if ((co_await call.write_head(out)).status != SKIFF_OK) co_return;
  for (;;) {
    if ((co_await call.write(piece->data, piece->last)).status != SKIFF_OK) co_return;
    if (piece->last) co_return;
    piece = co_await app.read_some();
    if (!piece) {
      spdlog::warn("answer of {} to {} interrupted: {}", head.target_app_id, head.caller_app_id,
                   piece.error().message);
      co_await call.fail(piece.error().code, piece.error().message);
      co_return;
    }
  }
}

}  // namespace skiff
