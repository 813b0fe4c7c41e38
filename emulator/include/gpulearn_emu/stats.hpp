// Counters of what the emulator ran, for test summaries (gpulearn_emu_stats()).
#pragma once

#include <cstdint>

namespace gpulearn_emu {

struct Stats {
  uint64_t launches = 0;               // kernel grids run
  uint64_t race_checked = 0;           // ... of which ran under two thread orders and compared
  uint64_t race_order_dependent = 0;   // ... compared, but read an atomic's result (exempt)
  uint64_t race_unchecked = 0;         // ... too much live memory to snapshot
  uint64_t blocks = 0;
  uint64_t threads = 0;
  uint64_t work_items = 0;             // queued items run (kernels, copies, library calls)
  uint64_t faults = 0;                 // sticky faults raised
  uint64_t allocations = 0;
  uint64_t failed_allocations = 0;
  uint64_t suspensions = 0;            // device threads suspended (barriers, warp intrinsics)
  uint64_t workers = 0;                // fibers created to run device threads
  uint64_t snapshot_bytes = 0;         // device memory copied by the race check
};

}  // namespace gpulearn_emu
