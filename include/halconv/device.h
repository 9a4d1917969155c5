// Where a convolution runs: the CPU, a CUDA device, or an OpenCL device.
//
// Thread-safety: any thread may call these at any time (the probe runs once).
#pragma once

#include <string>
#include <vector>

namespace halconv {

// automatic: the CPU, until the CUDA objects have passed their tests on a real GPU
// (bench/RESULTS_GPU.md); CUDA and OpenCL run when named.
enum class Device { automatic, cpu, cuda, opencl };

struct DeviceInfo {
  Device device;
  std::string name;  // e.g. "NVIDIA H100 80GB HBM3" or "pthread-AMD EPYC ..." (PoCL)
};

// Parses "auto", "cpu", "cuda" or "opencl"; anything else is an Error listing them.
Device parse_device(const std::string& name);
std::string device_name(Device device);

// The devices present. Probing loads libcuda / libOpenCL if they exist and never fails when they
// do not; the CPU is always listed.
std::vector<DeviceInfo> list_devices();

// The device a request runs on: automatic resolves as above; an explicit device that is not
// present is an Error that says why.
Device resolve_device(Device requested);

}  // namespace halconv
