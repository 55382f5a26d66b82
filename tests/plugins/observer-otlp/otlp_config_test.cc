// observer-otlp's reading of OpenTelemetry's variables and of its endpoint, and the encoding of
// spans: what a bad value gives (an error naming it, or a warning and the default).
#include "otlp_config.hpp"

#include <gtest/gtest.h>

#include <map>
#include <stdexcept>
#include <string>

#include "otlp_trace.pb.h"
#include "span_batch.hpp"

namespace skiff::otlp {
namespace {

struct Env {
  std::map<std::string, std::string> vars;
  std::vector<std::string> warnings;
  ExportConfig read(const std::string& endpoint = "", const std::string& service = "cart") {
    return read_export_config(
        endpoint, service,
        [this](const char* name) {
          auto it = vars.find(name);
          return it == vars.end() ? std::string() : it->second;
        },
        [this](const std::string& w) { warnings.push_back(w); });
  }
};

TEST(OtlpConfig, GeneralEndpointGetsTheSignalPath) {
  Env e;
  e.vars["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://collector:4318/";
  auto c = e.read();
  EXPECT_EQ(c.host, "collector");
  EXPECT_EQ(c.port, "4318");
  EXPECT_EQ(c.target, "/v1/traces");
}

TEST(OtlpConfig, TracesEndpointIsUsedAsItIsAndWinsOverTheGeneralOne) {
  Env e;
  e.vars["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://a:1";
  e.vars["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = "http://[::1]:9000/custom/path";
  auto c = e.read();
  EXPECT_EQ(c.host, "::1");
  EXPECT_EQ(c.port, "9000");
  EXPECT_EQ(c.target, "/custom/path");
}

TEST(OtlpConfig, TheConfigurationWinsAndAPortDefaultsTo80) {
  Env e;
  e.vars["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = "http://ignored:1";
  auto c = e.read("http://mine/base");
  EXPECT_EQ(c.host, "mine");
  EXPECT_EQ(c.port, "80");
  EXPECT_EQ(c.target, "/base/v1/traces");
}

TEST(OtlpConfig, BadEndpointsAreRefusedNamingWhere) {
  for (const char* bad : {"https://x:4318", "ftp://x", "http://", "http://:4318", "http://x:0",
                          "http://x:99999", "http://x:port", "http://[::1", "http://x\r\n:1"}) {
    Env e;
    e.vars["OTEL_EXPORTER_OTLP_ENDPOINT"] = bad;
    try {
      e.read();
      ADD_FAILURE() << bad << " was accepted";
    } catch (const std::invalid_argument& err) {
      EXPECT_NE(std::string(err.what()).find("OTEL_EXPORTER_OTLP_ENDPOINT"), std::string::npos)
          << err.what();
    }
  }
}

TEST(OtlpConfig, HeadersAreDecodedAndUnsafeOnesDropped) {
  Env e;
  e.vars["OTEL_EXPORTER_OTLP_HEADERS"] = "api-key=s%20e%3Dcret, x=1,broken,crlf=a%0D%0Ab,=v";
  auto c = e.read();
  ASSERT_EQ(c.headers.size(), 2u);
  EXPECT_EQ(c.headers[0], (std::pair<std::string, std::string>{"api-key", "s e=cret"}));
  EXPECT_EQ(c.headers[1], (std::pair<std::string, std::string>{"x", "1"}));
  EXPECT_EQ(e.warnings.size(), 3u);  // broken, the CR LF one, the empty key
}

TEST(OtlpConfig, ServiceNameFromTheVariablesElseTheAppId) {
  Env e;
  EXPECT_EQ(e.read().resource.front().second, "cart");
  e.vars["OTEL_RESOURCE_ATTRIBUTES"] = "service.name=from-attrs,team=core";
  auto c = e.read();
  EXPECT_EQ(c.resource.front().second, "from-attrs");
  EXPECT_EQ(c.resource.back(), (std::pair<std::string, std::string>{"team", "core"}));
  e.vars["OTEL_SERVICE_NAME"] = "shop";
  EXPECT_EQ(e.read().resource.front().second, "shop");
}

TEST(OtlpConfig, BadNumbersWarnAndKeepTheDefaults) {
  Env e;
  e.vars["OTEL_BSP_SCHEDULE_DELAY"] = "soon";
  e.vars["OTEL_BSP_MAX_QUEUE_SIZE"] = "0";
  e.vars["OTEL_EXPORTER_OTLP_TIMEOUT"] = "250";
  e.vars["OTEL_EXPORTER_OTLP_PROTOCOL"] = "grpc";
  auto c = e.read();
  EXPECT_EQ(c.schedule_delay_ms, 5000u);
  EXPECT_EQ(c.max_queue, 2048u);
  EXPECT_EQ(c.timeout_ms, 250u);
  EXPECT_EQ(e.warnings.size(), 3u);
}

skiff_str_t s(std::string_view v) {
  return {v.data(), v.size()};
}

TEST(OtlpSpans, CopyRefusesIdsThatAreNotHexOfTheirLength) {
  skiff_span_t span{};
  span.struct_size = sizeof span;
  span.trace_id = s("4bf92f3577b34da6a3ce929d0e0e4736");
  span.span_id = s("00f067aa0ba902b7");
  OwnedSpan out;
  EXPECT_TRUE(copy_span(span, out));
  span.parent_span_id = s("xyz");
  EXPECT_FALSE(copy_span(span, out));
  span.parent_span_id = {};
  span.span_id = s("00f067aa0ba902b");
  EXPECT_FALSE(copy_span(span, out));
}

TEST(OtlpSpans, EncodingRoundTripsThroughTheMessages) {
  skiff_header_t attributes[] = {{s("http.response.status_code"), s("503")},
                                 {s("http.route"), s("/x")},
                                 {s("skiff.retries"), s("not-a-number")}};
  skiff_span_t span{};
  span.struct_size = sizeof span;
  span.trace_id = s("4bf92f3577b34da6a3ce929d0e0e4736");
  span.span_id = s("00f067aa0ba902b7");
  span.parent_span_id = s("0102030405060708");
  span.name = s("GET /x");
  span.kind = SKIFF_SPAN_SERVER;
  span.start_unix_nanos = 10;
  span.end_unix_nanos = 20;
  span.status = SKIFF_ERR_UNAVAILABLE;
  span.status_message = s("down");
  span.attributes = attributes;
  span.attribute_count = 3;
  OwnedSpan owned;
  ASSERT_TRUE(copy_span(span, owned));
  std::string body = encode_export_request({owned}, {{"service.name", "cart"}}, "1.0");
  ExportTraceServiceRequest req;
  ASSERT_TRUE(req.ParseFromString(body));
  const auto& out = req.resource_spans(0).scope_spans(0).spans(0);
  EXPECT_EQ(req.resource_spans(0).resource().attributes(0).value().string_value(), "cart");
  EXPECT_EQ(out.trace_id().size(), 16u);
  EXPECT_EQ(static_cast<unsigned char>(out.parent_span_id()[7]), 8);
  EXPECT_EQ(out.kind(), Span::SPAN_KIND_SERVER);
  EXPECT_EQ(out.status().code(), Status::STATUS_CODE_ERROR);
  EXPECT_EQ(out.status().message(), "down");
  EXPECT_EQ(out.attributes(0).value().int_value(), 503);
  EXPECT_EQ(out.attributes(1).value().string_value(), "/x");
  EXPECT_EQ(out.attributes(2).value().string_value(), "not-a-number");
}

}  // namespace
}  // namespace skiff::otlp
