// The exposition format: what Prometheus's parser would refuse must never be written, whatever
// the metrics carry.
#include "exposition.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace skiff::prometheus {
namespace {

skiff_str_t s(std::string_view v) {
  return {v.data(), v.size()};
}

skiff_metric_t counter(std::string_view name, const std::vector<skiff_header_t>& labels,
                       double value, std::string_view help = "Help.") {
  skiff_metric_t m{};
  m.struct_size = sizeof m;
  m.name = s(name);
  m.help = s(help);
  m.type = SKIFF_METRIC_COUNTER;
  m.labels = labels.data();
  m.label_count = labels.size();
  m.value = value;
  return m;
}

std::string expose(const std::vector<skiff_metric_t>& metrics) {
  std::vector<const skiff_metric_t*> ptrs;
  for (const auto& m : metrics) ptrs.push_back(&m);
  std::string out;
  write_exposition(ptrs.data(), ptrs.size(), out);
  return out;
}

TEST(Exposition, CounterWithLabels) {
  std::vector<skiff_header_t> labels = {{s("app_id"), s("cart")}, {s("status"), s("200")}};
  EXPECT_EQ(expose({counter("calls_total", labels, 3)}),
            "# HELP calls_total Help.\n"
            "# TYPE calls_total counter\n"
            "calls_total{app_id=\"cart\",status=\"200\"} 3\n");
}

TEST(Exposition, OneHelpAndTypePerFamilyEvenWhenItsSeriesComeApart) {
  std::vector<skiff_header_t> a = {{s("x"), s("a")}}, b = {{s("x"), s("b")}};
  EXPECT_EQ(expose({counter("one", a, 1), counter("two", {}, 2), counter("one", b, 4)}),
            "# HELP one Help.\n# TYPE one counter\none{x=\"a\"} 1\none{x=\"b\"} 4\n"
            "# HELP two Help.\n# TYPE two counter\ntwo 2\n");
}

TEST(Exposition, LabelValuesAndHelpAreEscaped) {
  std::vector<skiff_header_t> labels = {{s("v"), s("a\"b\\c\nd")}};
  EXPECT_EQ(expose({counter("c", labels, 1, "line one\nback\\slash \"quoted\"")}),
            "# HELP c line one\\nback\\\\slash \"quoted\"\n"
            "# TYPE c counter\n"
            "c{v=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(Exposition, InvalidUtf8BecomesTheReplacementCharacter) {
  // \xff and \xf5 never start a sequence; \xc3 is cut short; the euro sign is valid.
  std::vector<skiff_header_t> labels = {{s("v"), s("ok\xff\xc3(\xf5\x80\x80\xe2\x82\xac")}};
  auto out = expose({counter("c", labels, 1)});
  EXPECT_NE(out.find("c{v=\"ok\xEF\xBF\xBD\xEF\xBF\xBD("
                     "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xe2\x82\xac\"} 1\n"),
            std::string::npos)
      << out;
}

TEST(Exposition, NamesAreMadeValid) {
  std::vector<skiff_header_t> labels = {{s("bad-label:x"), s("v")}};
  auto out = expose({counter("9bad name{}", labels, 1)});
  EXPECT_NE(out.find("# TYPE _9bad_name__ counter\n"), std::string::npos) << out;
  EXPECT_NE(out.find("_9bad_name__{bad_label_x=\"v\"} 1\n"), std::string::npos) << out;
}

TEST(Exposition, HistogramBucketsSumAndCount) {
  const double bounds[] = {1, 2.5, 100000};
  const uint64_t counts[] = {1, 3, 4, 6};
  std::vector<skiff_header_t> labels = {{s("app_id"), s("cart")}};
  skiff_metric_t m{};
  m.struct_size = sizeof m;
  m.name = s("lat_ms");
  m.help = s("Latency.");
  m.type = SKIFF_METRIC_HISTOGRAM;
  m.labels = labels.data();
  m.label_count = labels.size();
  m.bucket_bounds = bounds;
  m.bucket_counts = counts;
  m.bucket_count = 3;
  m.count = 6;
  m.sum = 12.5;
  EXPECT_EQ(expose({m}),
            "# HELP lat_ms Latency.\n# TYPE lat_ms histogram\n"
            "lat_ms_bucket{app_id=\"cart\",le=\"1\"} 1\n"
            "lat_ms_bucket{app_id=\"cart\",le=\"2.5\"} 3\n"
            "lat_ms_bucket{app_id=\"cart\",le=\"100000\"} 4\n"
            "lat_ms_bucket{app_id=\"cart\",le=\"+Inf\"} 6\n"
            "lat_ms_sum{app_id=\"cart\"} 12.5\n"
            "lat_ms_count{app_id=\"cart\"} 6\n");
}

TEST(Exposition, InconsistentBucketsAreCutNotWritten) {
  const double bounds[] = {1, 0.5, 3};  // not ascending
  const uint64_t counts[] = {2, 1, 5, 5};
  skiff_metric_t m{};
  m.struct_size = sizeof m;
  m.name = s("h");
  m.type = SKIFF_METRIC_HISTOGRAM;
  m.bucket_bounds = bounds;
  m.bucket_counts = counts;
  m.bucket_count = 3;
  m.count = 1;  // smaller than the buckets say: +Inf and _count never go below a bucket
  auto out = expose({m});
  EXPECT_NE(out.find("h_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 2\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("le=\"0.5\""), std::string::npos) << out;
  EXPECT_NE(out.find("h_count 2\n"), std::string::npos) << out;
}

TEST(Exposition, MixedTypesUnderOneNameKeepTheFirst) {
  auto a = counter("m", {}, 1);
  auto b = counter("m", {}, 2);
  b.type = SKIFF_METRIC_GAUGE;
  auto out = expose({a, b});
  EXPECT_EQ(out, "# HELP m Help.\n# TYPE m counter\nm 1\n");
}

TEST(Exposition, SpecialValues) {
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(12345678), "12345678");
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(1.0 / 0.0), "+Inf");
  EXPECT_EQ(format_value(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(format_value(0.0 / 0.0), "NaN");
}

TEST(Exposition, MetricsFromAnOlderOrBrokenTableAreSkipped) {
  skiff_metric_t small{};
  small.struct_size = 4;  // too short to hold the fields
  std::vector<const skiff_metric_t*> ptrs = {&small, nullptr};
  std::string out;
  write_exposition(ptrs.data(), ptrs.size(), out);
  EXPECT_EQ(out, "");
}

}  // namespace
}  // namespace skiff::prometheus
