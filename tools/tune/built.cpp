// The final round as built: finalists generated ahead of time, registered, timed through Plan.
#include "built.h"

#include <dlfcn.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <stdexcept>

#include "halconv/halconv.h"
#include "timing.h"

namespace halconv::tune {

namespace {

using Clock = std::chrono::steady_clock;

// A command line for the shell: every argument single-quoted.
std::string quoted(const std::vector<std::string>& args) {
  std::string line;
  for (const std::string& a : args) {
    std::string q = "'";
    for (char c : a) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    line += (line.empty() ? "" : " ") + q + "'";
  }
  return line;
}

void run_command(const std::vector<std::string>& args, const std::string& log) {
  const std::string line = quoted(args) + " > " + quoted({log}) + " 2>&1";
  if (std::system(line.c_str()) != 0) {
    throw std::runtime_error("failed (see " + log + "): " + line);
  }
}

// A string the variant table may point at for the rest of the process.
const char* kept(const std::string& s) { return (new std::string(s))->c_str(); }

}  // namespace

BuiltCandidate::BuiltCandidate(const VariantInfo& v, const Candidate& cand,
                               const std::optional<Candidate>& fixed_pack,
                               const Halide::Target& target, const std::string& work_dir, int index)
    : name_("tune_" + v.key + "_" + std::to_string(getpid()) + "_" + std::to_string(index)) {
  const CandidateParams params = candidate_params(v, cand, fixed_pack);
  // The object the build's dispatch runs on this host, with the product's runtime.
  const Halide::Target aot =
      target.without_feature(Halide::Target::JIT).with_feature(Halide::Target::NoRuntime);
  std::vector<std::string> generate = {
      HALCONV_GENERATOR,          "-g", "conv2d", "-f", name_, "-e", "object", "-o", work_dir,
      "target=" + aot.to_string()};
  for (const auto& [key, value] : params.generator) {
    generate.push_back(key + "=" + value);
  }
  const std::string object = work_dir + "/" + name_ + ".o";
  const std::string library = work_dir + "/" + name_ + ".so";
  run_command(generate, work_dir + "/" + name_ + ".log");
  run_command({HALCONV_CXX, "-shared", "-o", library, object}, work_dir + "/" + name_ + ".log");
  // The Halide runtime it calls is libhalconv's, already loaded (it exports those symbols).
  void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) throw std::runtime_error(std::string("dlopen: ") + dlerror());
  halconv::VariantSpec spec = params.spec;
  spec.name = kept(name_);
  spec.targets = kept(aot.to_string());
  spec.function = reinterpret_cast<halconv::GeneratedConv2D>(dlsym(handle, name_.c_str()));
  if (spec.function == nullptr) throw std::runtime_error("no symbol " + name_ + " in " + library);
  halconv::register_variant(spec);
}

std::vector<BuiltCandidate> build_candidates(const VariantInfo& v,
                                             const std::vector<Candidate>& cands,
                                             const std::optional<Candidate>& fixed_pack,
                                             const Halide::Target& target) {
  const std::string work_dir =
      (std::filesystem::temp_directory_path() / ("halconv-tune-" + std::to_string(getpid())))
          .string();
  std::filesystem::create_directories(work_dir);
  std::vector<std::future<BuiltCandidate>> pending;
  static int next_index = 0;
  for (const Candidate& cand : cands) {
    const int index = next_index++;
    pending.push_back(std::async(std::launch::async, [&, cand, index] {
      return BuiltCandidate(v, cand, fixed_pack, target, work_dir, index);
    }));
  }
  std::vector<BuiltCandidate> built;
  for (auto& p : pending) built.push_back(p.get());
  return built;
}

std::vector<double> time_built(const std::vector<BuiltCandidate>& built,
                               const halconv::Problem& p) {
  struct Timed {
    std::unique_ptr<halconv::Plan> plan;
    std::vector<float> workspace;
  };
  std::vector<float> input(static_cast<size_t>(p.batch * p.in_h * p.in_w * p.in_c));
  std::vector<float> kernel(
      static_cast<size_t>(p.kernel_h * p.kernel_w * (p.in_c / p.groups) * p.filters));
  std::vector<float> bias(static_cast<size_t>(p.filters));
  std::vector<float> output(static_cast<size_t>(p.output_elements()));
  for (size_t i = 0; i < input.size(); i++) input[i] = std::sin(0.37f * float(i % 4099));
  for (size_t i = 0; i < kernel.size(); i++) kernel[i] = std::cos(0.11f * float(i % 4093)) * 0.1f;
  for (size_t i = 0; i < bias.size(); i++) bias[i] = 0.01f * float(i % 7);
  std::vector<Timed> timed(built.size());
  for (size_t i = 0; i < built.size(); i++) {
    halconv::Options forced;
    forced.variant = built[i].name();
    timed[i].plan = std::make_unique<halconv::Plan>(p, kernel.data(), bias.data(),
                                                    halconv::Device::cpu, forced);
    timed[i].workspace.resize(timed[i].plan->workspace_floats());
    timed[i].plan->run(input.data(), output.data(), timed[i].workspace.data());  // warm-up
  }
  std::vector<std::function<double()>> runs;
  for (Timed& t : timed) {
    runs.push_back([&, plan = t.plan.get(), workspace = t.workspace.data()] {
      const auto t0 = Clock::now();
      plan->run(input.data(), output.data(), workspace);
      return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    });
  }
  return median_ms_interleaved(runs, 15, 1.5);
}

}  // namespace halconv::tune
