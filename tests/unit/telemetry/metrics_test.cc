#include "telemetry/metrics.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <thread>
#include <vector>

#include "telemetry/service_metrics.hpp"

namespace skiff {
namespace {

std::string series_key(const skiff_metric_t& m) {
  std::string key(m.name.ptr, m.name.len);
  for (size_t i = 0; i < m.label_count; ++i) {
    key += i ? "," : "{";
    key.append(m.labels[i].name.ptr, m.labels[i].name.len);
    key += "=";
    key.append(m.labels[i].value.ptr, m.labels[i].value.len);
  }
  if (m.label_count) key += "}";
  return key;
}

std::map<std::string, double> values(const MetricRegistry& r) {
  std::map<std::string, double> out;
  r.collect([&](const skiff_metric_t* const* metrics, size_t count) {
    for (size_t i = 0; i < count; ++i)
      out[series_key(*metrics[i])] = metrics[i]->type == SKIFF_METRIC_HISTOGRAM
                                         ? static_cast<double>(metrics[i]->count)
                                         : metrics[i]->value;
  });
  return out;
}

TEST(Metrics, CountsPerLabelSet) {
  MetricRegistry r;
  auto& f = r.counter("calls_total", "Calls.", {"app", "status"});
  f.add({"a", "200"});
  f.add({"a", "200"});
  f.add({"a", "500"});
  f.add({"b", "200"}, 5);
  auto v = values(r);
  EXPECT_EQ(v["calls_total{app=a,status=200}"], 2);
  EXPECT_EQ(v["calls_total{app=a,status=500}"], 1);
  EXPECT_EQ(v["calls_total{app=b,status=200}"], 5);
  EXPECT_EQ(v.size(), 3u);
}

TEST(Metrics, LabelValuesThatConcatenateAlikeStayApart) {
  MetricRegistry r;
  auto& f = r.counter("c", "", {"x", "y"});
  f.add({"ab", "c"});
  f.add({"a", "bc"});
  auto v = values(r);
  EXPECT_EQ(v["c{x=ab,y=c}"], 1);
  EXPECT_EQ(v["c{x=a,y=bc}"], 1);
}

TEST(Metrics, TwoRegistriesDoNotShareSeries) {
  // The per-thread cache is keyed by family: a second registry (a second sidecar in a test, or
  // one created after the first is gone) starts from zero.
  for (int round = 0; round < 2; ++round) {
    MetricRegistry r;
    auto& f = r.counter("c", "", {"x"});
    f.add({"same"});
    EXPECT_EQ(values(r)["c{x=same}"], 1) << "round " << round;
  }
}

TEST(Metrics, HistogramBucketsAreCumulativeWithSumAndCount) {
  MetricRegistry r;
  const double bounds[] = {1, 5, 10};
  auto& h = r.histogram("lat", "Latency.", {"app"}, bounds);
  for (double v : {0.5, 1.0, 3.0, 7.0, 100.0}) h.observe({"a"}, v);
  r.collect([&](const skiff_metric_t* const* metrics, size_t count) {
    ASSERT_EQ(count, 1u);
    const auto& m = *metrics[0];
    EXPECT_EQ(m.type, SKIFF_METRIC_HISTOGRAM);
    ASSERT_EQ(m.bucket_count, 3u);
    // le=1 holds 0.5 and 1.0 (upper bounds are inclusive), le=5 adds 3, le=10 adds 7.
    EXPECT_EQ(m.bucket_counts[0], 2u);
    EXPECT_EQ(m.bucket_counts[1], 3u);
    EXPECT_EQ(m.bucket_counts[2], 4u);
    EXPECT_EQ(m.bucket_counts[3], 5u);  // +Inf
    EXPECT_EQ(m.count, 5u);
    EXPECT_DOUBLE_EQ(m.sum, 111.5);
  });
}

TEST(Metrics, SeriesBeyondTheCapShareOneOverflowSeries) {
  MetricRegistry r;
  auto& f = r.counter("c", "", {"app"});
  for (size_t i = 0; i < MetricFamily::kMaxSeries + 50; ++i) f.add({"app-" + std::to_string(i)});
  EXPECT_EQ(f.series_count(), MetricFamily::kMaxSeries + 1);
  auto v = values(r);
  EXPECT_EQ(v["c{app=_other}"], 50);
  // A label set that existed before the cap keeps counting on its own.
  f.add({"app-0"});
  EXPECT_EQ(values(r)["c{app=app-0}"], 2);
}

TEST(Metrics, ConcurrentUpdatesFromManyThreadsAreAllCounted) {
  MetricRegistry r;
  auto& f = r.counter("c", "", {"app"});
  const double bounds[] = {1};
  auto& h = r.histogram("h", "", {"app"}, bounds);
  constexpr int kThreads = 4, kEach = 50000;
  std::vector<std::thread> threads;
  std::atomic<bool> stop{false};
  // A reader scrapes all along, as Prometheus does while calls run.
  std::thread reader([&] {
    while (!stop) values(r);
  });
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        f.add({i % 2 ? "odd" : "even"});
        h.observe({"t" + std::to_string(t % 2)}, 0.5);
      }
    });
  for (auto& t : threads) t.join();
  stop = true;
  reader.join();
  auto v = values(r);
  EXPECT_EQ(v["c{app=odd}"] + v["c{app=even}"], kThreads * kEach);
  EXPECT_EQ(v["h{app=t0}"] + v["h{app=t1}"], kThreads * kEach);
}

TEST(Metrics, ReadersAreReadAtCollection) {
  MetricRegistry r;
  int in_flight = 3;
  r.add_reader("g", "Gauge.", SKIFF_METRIC_GAUGE, [&] { return in_flight; });
  EXPECT_EQ(values(r)["g"], 3);
  in_flight = 7;
  EXPECT_EQ(values(r)["g"], 7);
}

TEST(ServiceMetrics, DaprNamesAndLabels) {
  MetricRegistry r;
  ServiceMetrics m(r, "cart");
  auto started = ServiceMetrics::Clock::now();
  m.request_sent("pay", false);
  m.response_received("pay", 200, false, started);
  m.request_sent("pay", true);
  m.call_failed("pay", SKIFF_ERR_UNAVAILABLE);
  m.request_received("web");
  m.response_sent("web", 403);
  m.http_request_started("POST", "/v1.0/invoke/{id}/method/{method}");
  m.http_request_done("POST", "/v1.0/invoke/{id}/method/{method}", 200, started);
  auto v = values(r);
  EXPECT_EQ(v["dapr_runtime_service_invocation_req_sent_total{app_id=cart,dst_app_id=pay,type="
              "unary}"],
            1);
  EXPECT_EQ(v["dapr_runtime_service_invocation_req_sent_total{app_id=cart,dst_app_id=pay,type="
              "streaming}"],
            1);
  EXPECT_EQ(v["dapr_runtime_service_invocation_res_recv_total{app_id=cart,src_app_id=pay,status="
              "200,type=unary}"],
            1);
  EXPECT_EQ(v["dapr_runtime_service_invocation_res_recv_latency_ms{app_id=cart,src_app_id=pay,"
              "status=200}"],
            1);
  EXPECT_EQ(v["skiff_invoke_failed_total{app_id=cart,dst_app_id=pay,reason=UNAVAILABLE}"], 1);
  EXPECT_EQ(v["dapr_runtime_service_invocation_req_recv_total{app_id=cart,src_app_id=web}"], 1);
  EXPECT_EQ(
      v["dapr_runtime_service_invocation_res_sent_total{app_id=cart,dst_app_id=web,status=403}"],
      1);
  EXPECT_EQ(v["dapr_http_server_request_count{app_id=cart,method=POST,path=/v1.0/invoke/{id}/"
              "method/{method}}"],
            1);
  EXPECT_EQ(v["dapr_http_server_response_count{app_id=cart,method=POST,path=/v1.0/invoke/{id}/"
              "method/{method},status=200}"],
            1);
  EXPECT_EQ(v["dapr_http_server_latency{app_id=cart,method=POST,path=/v1.0/invoke/{id}/method/"
              "{method},status=200}"],
            1);
}

TEST(ServiceMetrics, DaprLatencyBuckets) {
  auto b = dapr_latency_buckets_ms();
  ASSERT_EQ(b.size(), 34u);
  EXPECT_EQ(b.front(), 1);
  EXPECT_EQ(b[6], 8);
  EXPECT_EQ(b.back(), 100000);
  EXPECT_TRUE(std::is_sorted(b.begin(), b.end()));
}

}  // namespace
}  // namespace skiff
