// The final round's decision: each finalist's score against the default, which may win, and
// whether the committed parameters are within noise of the winner.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace halconv::tune {

// The noise bound of a final-round comparison: a finalist 5% slower than another is no slower.
constexpr double kNoise = 1.05;

struct Decision {
  std::vector<double> scores;   // each finalist's geomean time relative to the default
  std::vector<bool> regresses;  // whether it is slower than the default beyond noise on a shape
  size_t best = 0;              // the winner: the best score among those that do not regress
  bool committed_within_noise =
      false;  // whether the committed finalist's score is within noise of it
};

// final_ms: each finalist's median ms per shape name, index 0 the default's; shape_count: the
// shapes of the class (each score is the geomean over them); committed: the committed finalist.
// A candidate may not lose to the default on any shape of the class beyond noise (the 5% that
// --check allows): the tuned schedule must be at least as fast everywhere, not just on average.
Decision decide(const std::vector<std::map<std::string, double>>& final_ms, size_t shape_count,
                size_t committed);

}  // namespace halconv::tune
