// report.hpp: the results as markdown (printed, and the body of docs/benchmarks.md).
#pragma once

#include <string>

#include "options.hpp"
#include "results.hpp"

namespace authflow::bench {

std::string render_report(const Options &options, const Results &results);

} // namespace authflow::bench
