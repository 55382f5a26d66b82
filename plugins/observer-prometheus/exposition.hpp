// The Prometheus text exposition format 0.0.4 (prometheus/docs exposition_formats.md) of one
// metrics snapshot: one HELP and one TYPE line per family before its samples, label values and
// help text escaped, histograms as cumulative _bucket series with le="+Inf", then _sum and _count.
#ifndef SKIFF_OBSERVER_PROMETHEUS_EXPOSITION_HPP
#define SKIFF_OBSERVER_PROMETHEUS_EXPOSITION_HPP

#include <string>
#include <string_view>

#include "skiff/observer.h"

namespace skiff::prometheus {

inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

// Appends the exposition of `count` metrics to `out`. Metrics of one name may come apart: they
// are written together, in the order of their first appearance. Names are made valid (any
// character outside [a-zA-Z0-9_:] becomes '_'), so nothing a metric carries can break the format.
void write_exposition(const skiff_metric_t* const* metrics, size_t count, std::string& out);

// A sample value as Prometheus writes it: integers without a fraction, NaN, +Inf, -Inf.
std::string format_value(double v);

}  // namespace skiff::prometheus

#endif
