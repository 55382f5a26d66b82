// W3C Trace Context parsing as a receiver must do it (w3c/trace-context, Level 1): the spec's own
// examples, its versioning rules and the limits of tracestate.
#include "common/trace_context.hpp"

#include <gtest/gtest.h>

#include <set>

namespace skiff {
namespace {

constexpr std::string_view kTraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr std::string_view kSpanId = "00f067aa0ba902b7";

std::string traceparent(std::string_view version, std::string_view flags = "01",
                        std::string_view rest = "") {
  return std::string(version) + "-" + std::string(kTraceId) + "-" + std::string(kSpanId) + "-" +
         std::string(flags) + std::string(rest);
}

TEST(TraceParent, TheSpecsExampleIsReadAndWrittenBackUnchanged) {
  auto p = parse_traceparent(traceparent("00"));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->trace_id_hex(), kTraceId);
  EXPECT_EQ(p->span_id_hex(), kSpanId);
  EXPECT_TRUE(p->sampled);
  EXPECT_EQ(p->header(), traceparent("00"));
  EXPECT_FALSE(parse_traceparent(traceparent("00", "00"))->sampled);
}

TEST(TraceParent, OnlyTheSampledFlagIsKept) {
  auto p = parse_traceparent(traceparent("00", "09"));
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->sampled);
  EXPECT_EQ(p->header(), traceparent("00", "01"));
  EXPECT_FALSE(parse_traceparent(traceparent("00", "02"))->sampled);
}

TEST(TraceParent, InvalidValuesAreIgnored) {
  const std::string upper_trace = "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01";
  const std::string upper_span = "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01";
  for (const std::string& bad : {
           std::string(), std::string("00"), upper_trace, upper_span, traceparent("00", "0G"),
           traceparent("00", "1"),
           traceparent("ff"),                  // version ff is invalid
           traceparent("0x"),                  // not hex
           traceparent("00", "01", "-extra"),  // version 00 has exactly four fields
           traceparent("00", "01", " "),
           traceparent("cc", "01", "what"),  // a later version's extra fields follow a dash
           std::string("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
           std::string("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"),
           std::string("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
           std::string("00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01"),
           std::string("00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01"),
           std::string("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"),  // < 55
       })
    EXPECT_FALSE(parse_traceparent(bad)) << bad;
}

TEST(TraceParent, ALaterVersionIsReadForItsFirstFieldsAndWrittenAsVersion00) {
  for (const std::string& later : {traceparent("cc"), traceparent("01", "01", "-what-comes-next"),
                                   traceparent("fe", "01", "-")}) {
    auto p = parse_traceparent(later);
    ASSERT_TRUE(p) << later;
    EXPECT_EQ(p->header(), traceparent("00")) << later;
  }
}

TEST(TraceState, MembersAreCheckedAndWhiteSpaceAndEmptyMembersDropped) {
  EXPECT_EQ(normalize_tracestate("congo=t61rcWkgMzE"), "congo=t61rcWkgMzE");
  EXPECT_EQ(normalize_tracestate("rojo=00f067aa0ba902b7 ,\tcongo=t61rcWkgMzE"),
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  EXPECT_EQ(normalize_tracestate(" , ,a=1,,"), "a=1");
  EXPECT_EQ(normalize_tracestate(""), "");
  EXPECT_EQ(normalize_tracestate("a=b c"), "a=b c");
  EXPECT_EQ(normalize_tracestate("fw529a3039@dt=a,1tenant@sys=v,k/*-_=v"),
            "fw529a3039@dt=a,1tenant@sys=v,k/*-_=v");
}

TEST(TraceState, AMalformedHeaderIsDroppedWhole) {
  for (const char* bad : {"Rojo=1", "1a=b", "a", "a=", "=b", "a=b=c", "a=b,a=c", "t@1sys=v", "t@=v",
                          "@sys=v", "t@systemidistoolong=v", "a=\x01", "a=b\x7f"})
    EXPECT_FALSE(normalize_tracestate(bad)) << bad;
  EXPECT_FALSE(normalize_tracestate("k=" + std::string(257, 'v')));
  EXPECT_FALSE(normalize_tracestate(std::string(257, 'k') + "=v"));
}

TEST(TraceState, AtMost32Members) {
  std::string header;
  for (int i = 0; i < 32; ++i) header += (i ? ",k" : "k") + std::to_string(i) + "=v";
  EXPECT_EQ(normalize_tracestate(header), header);
  EXPECT_FALSE(normalize_tracestate(header + ",k32=v"));
}

TEST(TraceState, ALongHeaderLosesItsLongMembersFirstThenMembersFromTheEnd) {
  const std::string big = "big=" + std::string(200, 'x');  // more than 128 characters
  std::string header = "a=1," + big + ",b=2";
  for (int i = 0; i < 20; ++i) header += ",m" + std::to_string(i) + "=" + std::string(20, 'y');
  auto out = normalize_tracestate(header);
  ASSERT_TRUE(out);
  EXPECT_LE(out->size(), kMaxTraceState);
  EXPECT_EQ(out->find("big="), std::string::npos);
  EXPECT_TRUE(out->starts_with("a=1,b=2,m0="));
  // Under the limit nothing is lost, long members included.
  EXPECT_EQ(normalize_tracestate("a=1," + big), "a=1," + big);
}

TEST(GrpcTraceBin, RoundTripsAndRefusesMalformedBytes) {
  auto p = parse_traceparent(traceparent("00"));
  ASSERT_TRUE(p);
  auto bin = grpc_trace_bin(*p);
  EXPECT_EQ(bin.size(), 29u);
  EXPECT_EQ(parse_grpc_trace_bin(bin), p);
  for (const std::string& bad :
       {std::string(), std::string(1, '\1') + bin.substr(1), bin.substr(0, 10), bin.substr(0, 18)})
    EXPECT_FALSE(parse_grpc_trace_bin(bad));
  // Without the options field: not sampled. An unknown field after the known ones is ignored.
  auto unsampled = parse_grpc_trace_bin(bin.substr(0, 27));
  ASSERT_TRUE(unsampled);
  EXPECT_FALSE(unsampled->sampled);
  EXPECT_EQ(parse_grpc_trace_bin(bin + "\x07zz"), p);
}

TEST(TraceIds, NewIdsAreNonZeroAndDistinctAndChildrenStayInTheirTrace) {
  std::set<std::string> traces, spans;
  for (int i = 0; i < 1000; ++i) {
    auto root = TraceIds::new_trace(true);
    auto child = TraceIds::child_of(root);
    EXPECT_EQ(child.trace_id, root.trace_id);
    EXPECT_NE(child.span_id, root.span_id);
    EXPECT_TRUE(child.sampled);
    EXPECT_TRUE(parse_traceparent(root.header()));
    traces.insert(root.trace_id_hex());
    spans.insert(child.span_id_hex());
  }
  EXPECT_EQ(traces.size(), 1000u);
  EXPECT_EQ(spans.size(), 1000u);
}

TEST(Sampling, TheRateHoldsAndEverySidecarDecidesAlike) {
  int sampled = 0;
  for (int i = 0; i < 20000; ++i) {
    auto id = TraceIds::new_trace(false).trace_id;
    bool once = sample_trace_id(id, 0.25);
    EXPECT_EQ(sample_trace_id(id, 0.25), once);
    sampled += once;
    EXPECT_FALSE(sample_trace_id(id, 0));
    EXPECT_TRUE(sample_trace_id(id, 1));
  }
  EXPECT_NEAR(sampled, 5000, 400);
}

}  // namespace
}  // namespace skiff
