/* Owns cgroup layout detection (v1, hybrid, v2) by filesystem magic. */
#include "linux/cgroup-mode.h"

#include <linux/magic.h>
#include <stdio.h>
#include <sys/vfs.h>

cgroup_mode
cgroup_mode_detect (const char *root)
{
  struct statfs fs;
  if (statfs (root, &fs) < 0)
    return CGROUP_MODE_UNKNOWN;
  if (fs.f_type == CGROUP2_SUPER_MAGIC)
    return CGROUP_MODE_V2;
  if (fs.f_type != TMPFS_MAGIC)
    return CGROUP_MODE_UNKNOWN;
  char unified[4096];
  snprintf (unified, sizeof unified, "%s/unified", root);
  if (statfs (unified, &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC)
    return CGROUP_MODE_HYBRID;
  return CGROUP_MODE_V1;
}

const char *
cgroup_mode_name (cgroup_mode mode)
{
  switch (mode)
    {
    case CGROUP_MODE_V1:
      return "v1";
    case CGROUP_MODE_HYBRID:
      return "hybrid";
    case CGROUP_MODE_V2:
      return "v2";
    default:
      return "unknown";
    }
}
