// What the caller's sidecar does with the trace context of an app's call: keep a valid one (the
// app's tracestate with it), start a new trace otherwise; and grpc-trace-bin for gRPC apps.
#include "invoke/trace_headers.hpp"

#include <gtest/gtest.h>

namespace skiff {
namespace {

constexpr std::string_view kValid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

std::vector<std::string> values(const std::vector<Header>& headers, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& h : headers)
    if (h.name == name) out.push_back(h.value);
  return out;
}

TEST(CarryTraceContext, KeepsAValidTraceparentAndItsTracestateWhateverTheirCase) {
  std::vector<Header> headers{{"TraceParent", std::string(kValid)},
                              {"x-other", "1"},
                              {"Tracestate", "a=1"},
                              {"tracestate", "b=2 "}};
  auto carried = carry_trace_context(headers, 0);
  EXPECT_EQ(carried.header(), kValid);
  EXPECT_EQ(values(headers, "traceparent"), std::vector<std::string>{std::string(kValid)});
  EXPECT_EQ(values(headers, "tracestate"), std::vector<std::string>{"a=1,b=2"});
  EXPECT_EQ(values(headers, "x-other"), std::vector<std::string>{"1"});
  EXPECT_EQ(headers.size(), 3u);
}

TEST(CarryTraceContext, StartsATraceWhenThereIsNoneOrTwoOrABadOne) {
  for (std::vector<Header> headers :
       {std::vector<Header>{},
        std::vector<Header>{{"traceparent", std::string(kValid)},
                            {"traceparent", std::string(kValid)}},
        std::vector<Header>{{"traceparent", "00-bad"}, {"tracestate", "a=1"}}}) {
    auto carried = carry_trace_context(headers, 1);
    EXPECT_NE(carried.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_TRUE(carried.sampled);
    EXPECT_EQ(values(headers, "traceparent"), std::vector<std::string>{carried.header()});
    EXPECT_TRUE(values(headers, "tracestate").empty());
  }
  std::vector<Header> unsampled;
  EXPECT_FALSE(carry_trace_context(unsampled, 0).sampled);
}

TEST(CarryTraceContext, DropsAGrpcTraceBinTheTraceparentDoesNotMatch) {
  auto stale = TraceIds::new_trace(true);
  std::vector<Header> headers{{"grpc-trace-bin", grpc_trace_bin(stale)},
                              {"traceparent", std::string(kValid)}};
  EXPECT_EQ(carry_trace_context(headers, 0).header(), kValid);
  EXPECT_TRUE(values(headers, "grpc-trace-bin").empty());
}

TEST(AddGrpcTraceBin, MatchesTheTraceparent) {
  std::vector<Header> headers{{"traceparent", std::string(kValid)}, {"grpc-trace-bin", "stale"}};
  add_grpc_trace_bin(headers);
  auto bins = values(headers, "grpc-trace-bin");
  ASSERT_EQ(bins.size(), 1u);
  EXPECT_EQ(parse_grpc_trace_bin(bins[0]), parse_traceparent(kValid));
}

TEST(JoinTrace, RecordsTheAppsParentAndNamesTheLastSpanInTheTraceparentSentOn) {
  std::vector<Header> headers{{"traceparent", std::string(kValid)}};
  CallContext context(CallIngress::kHttpApi);
  auto sent = join_trace(headers, 0, true, {.server = true, .client = true}, context);
  const auto app = parse_traceparent(kValid);
  ASSERT_TRUE(app);
  EXPECT_TRUE(context.traced());
  EXPECT_EQ(context.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_TRUE(context.trace.recording);
  EXPECT_TRUE(context.trace.has_parent);
  EXPECT_EQ(context.trace.parent, app->span_id);
  EXPECT_TRUE(context.trace.has_server_span);
  EXPECT_NE(context.trace.server_span, context.trace.client_span);
  EXPECT_NE(context.trace.server_span, app->span_id);
  // The callee's sidecar continues from this sidecar's client span.
  EXPECT_EQ(sent.span_id, context.trace.client_span);
  EXPECT_EQ(values(headers, "traceparent"), std::vector<std::string>{sent.header()});
}

TEST(JoinTrace, AnUnsampledOrUnrecordedCallKeepsTheAppsTraceparentAndRecordsNothing) {
  constexpr std::string_view kUnsampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
  for (auto [traceparent, record] : {std::pair{kUnsampled, true}, std::pair{kValid, false}}) {
    std::vector<Header> headers{{"traceparent", std::string(traceparent)}};
    CallContext context(CallIngress::kGrpcApi);
    auto sent = join_trace(headers, 1, record, {.server = true, .client = true}, context);
    EXPECT_EQ(sent.header(), traceparent);
    EXPECT_EQ(values(headers, "traceparent"), std::vector<std::string>{std::string(traceparent)});
    EXPECT_FALSE(context.trace.recording);
    EXPECT_EQ(context.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  }
}

TEST(JoinTrace, ANewTraceHasNoParent) {
  std::vector<Header> headers;
  CallContext context(CallIngress::kHttpApi);
  auto sent = join_trace(headers, 1, true, {.server = true}, context);
  EXPECT_FALSE(context.trace.has_parent);
  EXPECT_TRUE(context.trace.recording);
  EXPECT_EQ(sent.span_id, context.trace.server_span);
  EXPECT_EQ(context.trace_id_hex(), sent.trace_id_hex());
}

TEST(CallContext, TheFinalStatusIsTheAnswerElseTheFailureElseNone) {
  CallContext context(CallIngress::kTransport);
  EXPECT_EQ(context.final_http_status(), 0);
  EXPECT_EQ(context.trace_id_hex(), "");
  context.failure = SKIFF_ERR_UNAVAILABLE;
  EXPECT_EQ(context.final_http_status(), static_cast<int>(http_status_for(SKIFF_ERR_UNAVAILABLE)));
  context.http_status = 404;
  EXPECT_EQ(context.final_http_status(), 404);
  // Spans carry wall-clock time; the call started before it was asked.
  EXPECT_LE(context.started_unix_nanos(), unix_nanos());
}

}  // namespace
}  // namespace skiff
