// The final round's decision: geomean scores against the default, the no-regression rule, the
// winner and the --check verdict.
#include "decision.h"

#include <cmath>

namespace halconv::tune {

// A 3% bound let the seed's 12 ms write-bound layer, whose final-round medians move 4% between
// runs, veto a tile 18% faster on ResNet's strided 1x1 layer.
Decision decide(const std::vector<std::map<std::string, double>>& final_ms, size_t shape_count,
                size_t committed) {
  Decision d{std::vector<double>(final_ms.size()), std::vector<bool>(final_ms.size()), 0, false};
  for (size_t i = 0; i < final_ms.size(); i++) {
    double log_sum = 0;
    bool no_regression = true;
    for (const auto& [name, t] : final_ms[i]) {
      log_sum += std::log(t / final_ms[0].at(name));
      no_regression = no_regression && t <= kNoise * final_ms[0].at(name);
    }
    d.scores[i] = std::exp(log_sum / shape_count);
    d.regresses[i] = !no_regression;
    if (no_regression && d.scores[i] < d.scores[d.best]) d.best = i;
  }
  d.committed_within_noise = d.scores[committed] <= kNoise * d.scores[d.best];
  return d;
}

}  // namespace halconv::tune
