/* Which cgroup hierarchy layout the host uses. */
#ifndef BOX_LINUX_CGROUP_MODE_H
#define BOX_LINUX_CGROUP_MODE_H

typedef enum cgroup_mode {
  CGROUP_MODE_UNKNOWN = 0,
  CGROUP_MODE_V1,     /* legacy: only v1 controller hierarchies */
  CGROUP_MODE_HYBRID, /* v1 controllers plus a (mostly empty) v2 tree at unified/ */
  CGROUP_MODE_V2,     /* unified: /sys/fs/cgroup is cgroup2 */
} cgroup_mode;

/* Detects the mode from the filesystem types under root (normally "/sys/fs/cgroup"). */
cgroup_mode cgroup_mode_detect (const char *root);
const char *cgroup_mode_name (cgroup_mode mode);

#endif
