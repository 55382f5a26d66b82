// An invocation from an app over HTTP (/v1.0/invoke/...): the request translated into the call
// model for the Caller, and the Caller's answer (or failure, as Dapr's error body) translated
// back onto the app's connection.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>

#include "api/http_exchange.hpp"
#include "http/messages.hpp"
#include "invoke/caller.hpp"
#include "invoke/target.hpp"

namespace skiff {

// Serves one HTTP invocation from an app: request from, answer to `exchange`.
boost::asio::awaitable<void> invoke_over_http(Caller& caller, const InvokeTarget& target,
                                              HttpExchange& exchange);
// The head of an HTTP invocation: the request's end-to-end headers, X-Forwarded-For/-Host and
// Forwarded, and the caller's own headers (`context` gets the trace they carry).
CallHead http_call_head(const Caller& caller, const InvokeTarget& target,
                        const http::request_header<>& req, const std::string& client_address,
                        CallContext& context);
// Dapr's error body for a failed invocation (ERR_DIRECT_INVOKE).
Response invocation_failure(const InvokeTarget& target, const Error& error);

}  // namespace skiff
