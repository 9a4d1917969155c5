// The Halide runtime's host allocator, replaced by one that keeps freed blocks for reuse
// (internal).
#pragma once

namespace halconv::detail {

// Installs it (once; later calls do nothing). The registry does this before any variant runs.
void install_scratch_pool();

}  // namespace halconv::detail
