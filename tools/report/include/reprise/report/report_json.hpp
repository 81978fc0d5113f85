#pragma once
// Machine-readable forms of a report and a comparison (`--json`). Times are in ns, rates per
// second, shares in [0, 1]; the shape is documented in the README ("Report and compare").

#include <vector>

#include <nlohmann/json.hpp>

#include "reprise/report/comparison.hpp"
#include "reprise/report/gate.hpp"
#include "reprise/report/report.hpp"

namespace reprise::report {

nlohmann::json to_json(const Report& r);
nlohmann::json to_json(const Comparison& c, const std::vector<GateResult>& gate);

}  // namespace reprise::report
