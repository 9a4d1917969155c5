// Device probing through the vendors' loaders (dlopen), so a machine without libcuda or
// libOpenCL still runs, and Halide's GPU runtime is only entered when a device exists.
#include "halconv/device.h"

#include <CL/cl.h>
#include <dlfcn.h>

#include <algorithm>
#include <mutex>

#include "halconv/config.h"

namespace halconv {
namespace {

struct Probe {
  std::vector<DeviceInfo> devices;
  std::string cuda_absent_reason = "not probed";
  std::string opencl_absent_reason = "not probed";
};

void probe_cuda(Probe& probe) {
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    probe.cuda_absent_reason = "libcuda.so.1 cannot be loaded (no NVIDIA driver)";
    return;
  }
  using InitFn = int (*)(unsigned);
  using CountFn = int (*)(int*);
  using GetFn = int (*)(int*, int);
  using NameFn = int (*)(char*, int, int);
  auto init = reinterpret_cast<InitFn>(dlsym(lib, "cuInit"));
  auto count = reinterpret_cast<CountFn>(dlsym(lib, "cuDeviceGetCount"));
  auto get = reinterpret_cast<GetFn>(dlsym(lib, "cuDeviceGet"));
  auto name = reinterpret_cast<NameFn>(dlsym(lib, "cuDeviceGetName"));
  int devices = 0;
  if (!init || !count || !get || !name) {
    probe.cuda_absent_reason = "libcuda.so.1 lacks the driver API";
  } else if (int status = init(0); status != 0) {
    probe.cuda_absent_reason = "cuInit failed with status " + std::to_string(status);
  } else if (count(&devices) != 0 || devices == 0) {
    probe.cuda_absent_reason = "the CUDA driver reports no devices";
  } else {
    for (int i = 0; i < devices; i++) {
      int handle = 0;
      char text[256] = "CUDA device";
      if (get(&handle, i) == 0) name(text, sizeof text, handle);
      probe.devices.push_back({Device::cuda, text});
    }
    probe.cuda_absent_reason.clear();
  }
  // libcuda stays loaded: Halide's CUDA runtime loads it again and uses the same instance.
}

void probe_opencl(Probe& probe) {
  void* lib = dlopen("libOpenCL.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    probe.opencl_absent_reason = "libOpenCL.so.1 cannot be loaded (no OpenCL ICD loader)";
    return;
  }
  using PlatformsFn = cl_int (*)(cl_uint, cl_platform_id*, cl_uint*);
  using DevicesFn = cl_int (*)(cl_platform_id, cl_device_type, cl_uint, cl_device_id*, cl_uint*);
  using InfoFn = cl_int (*)(cl_device_id, cl_device_info, size_t, void*, size_t*);
  auto platforms_fn = reinterpret_cast<PlatformsFn>(dlsym(lib, "clGetPlatformIDs"));
  auto devices_fn = reinterpret_cast<DevicesFn>(dlsym(lib, "clGetDeviceIDs"));
  auto info_fn = reinterpret_cast<InfoFn>(dlsym(lib, "clGetDeviceInfo"));
  cl_platform_id platforms[16];
  cl_uint platform_count = 0;
  if (!platforms_fn || !devices_fn || !info_fn ||
      platforms_fn(16, platforms, &platform_count) != CL_SUCCESS || platform_count == 0) {
    probe.opencl_absent_reason = "no OpenCL platform is installed";
    return;
  }
  for (cl_uint p = 0; p < std::min<cl_uint>(platform_count, 16); p++) {
    cl_device_id ids[16];
    cl_uint count = 0;
    if (devices_fn(platforms[p], CL_DEVICE_TYPE_ALL, 16, ids, &count) != CL_SUCCESS) continue;
    for (cl_uint d = 0; d < std::min<cl_uint>(count, 16); d++) {
      char text[256] = "OpenCL device";
      info_fn(ids[d], CL_DEVICE_NAME, sizeof text - 1, text, nullptr);
      probe.devices.push_back({Device::opencl, text});
    }
  }
  probe.opencl_absent_reason =
      probe.devices.empty() || probe.devices.back().device != Device::opencl
          ? "the OpenCL platforms report no devices"
          : "";
}

const Probe& probe() {
  static const Probe result = [] {
    Probe p;
    p.devices.push_back({Device::cpu, "host CPU"});
    probe_cuda(p);
    probe_opencl(p);
    return p;
  }();
  return result;
}

}  // namespace

Device parse_device(const std::string& name) {
  if (name == "auto") return Device::automatic;
  if (name == "cpu") return Device::cpu;
  if (name == "cuda") return Device::cuda;
  if (name == "opencl") return Device::opencl;
  throw Error(ErrorKind::invalid_config,
              "unknown device '" + name + "'; valid values are: auto, cpu, cuda, opencl");
}

std::string device_name(Device device) {
  switch (device) {
    case Device::automatic:
      return "auto";
    case Device::cpu:
      return "cpu";
    case Device::cuda:
      return "cuda";
    case Device::opencl:
      return "opencl";
  }
  return "unknown";
}

std::vector<DeviceInfo> list_devices() { return probe().devices; }

Device resolve_device(Device requested) {
  // The CPU until the CUDA objects have passed their tests on a real GPU (bench/RESULTS_GPU.md);
  // CUDA and OpenCL run when asked for by name.
  if (requested == Device::automatic) return Device::cpu;
  const Probe& p = probe();
  if (requested == Device::cuda && !p.cuda_absent_reason.empty()) {
    throw Error(ErrorKind::device, "device cuda is not available: " + p.cuda_absent_reason);
  }
  if (requested == Device::opencl && !p.opencl_absent_reason.empty()) {
    throw Error(ErrorKind::device, "device opencl is not available: " + p.opencl_absent_reason);
  }
  return requested;
}

}  // namespace halconv
