/* Owns backend lookup by name, and what the backends share: stats read from a cgroup. */
#include "runtime/runtime.h"

#include <string.h>

#include "linux/cgroup.h"
#include "runtime/native.h"
#include "runtime/oci.h"
#include "util/strutil.h"

const runtime_backend *
runtime_backend_lookup (const char *name)
{
  if (!name || !*name || strcmp (name, "native") == 0)
    return &native_backend;
  if (str_has_prefix (name, "oci:"))
    return oci_backend_for (name + 4);
  if (strcmp (name, "runc") == 0 || strcmp (name, "crun") == 0 || strcmp (name, "runsc") == 0)
    return oci_backend_for (name);
  return NULL;
}

int
runtime_stats_from_cgroup (const char *cgroup_path, runtime_stats_scope scope, runtime_stats *out,
                           box_error **err)
{
  memset (out, 0, sizeof *out);
  if (scope == RUNTIME_STATS_OOM_ONLY)
    {
      uint64_t oom_kills = 0;
      if (cgroup_read_oom_kills (cgroup_path, &oom_kills, err) < 0)
        return box_err_code (err);
      out->oom_killed = oom_kills > 0;
      return 0;
    }
  cgroup_stats stats;
  if (cgroup_read_stats (cgroup_path, &stats, err) < 0)
    return box_err_code (err);
  *out = (runtime_stats){
    .memory_usage_bytes = stats.memory_usage_bytes,
    .memory_limit_bytes = stats.memory_limit_bytes,
    .cpu_usage_ns = stats.cpu_usage_ns,
    .pids_current = stats.pids_current,
    .oom_killed = stats.oom_kills > 0,
  };
  return 0;
}
