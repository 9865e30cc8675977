/* A box's cgroups on any host layout: v1 (one hierarchy per controller), hybrid (v1
 * controllers plus the unified tree, used here for tracking and cgroup.kill) and v2. The box's
 * cgroup is a relative path ("/box/<id>") placed under every hierarchy box uses. */
#ifndef BOX_LINUX_CGROUP_H
#define BOX_LINUX_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "linux/cgroup-mode.h"
#include "util/error.h"

typedef struct cgroup_limits {
  int64_t memory_limit;      /* bytes, -1: unlimited */
  int64_t memory_swap;       /* memory + swap bytes, -1: unset, INT64_MAX: unlimited */
  uint64_t cpu_shares;       /* 0: unset */
  int64_t cpu_quota;         /* microseconds per period, -1: unlimited */
  uint64_t cpu_period;       /* microseconds, 0: the kernel's default */
  int64_t pids_limit;        /* 0: unset, <0: unlimited */
  const char *devices_rules; /* device rules ("+c 1:3 rwm\n-a *:* rwm\n"), NULL: none; the v1
                                devices controller, an eBPF device filter on v2 */
} cgroup_limits;

typedef struct cgroup_stats {
  uint64_t memory_usage_bytes;
  uint64_t memory_limit_bytes; /* 0: unlimited */
  uint64_t cpu_usage_ns;
  uint64_t pids_current;
  uint64_t oom_kills; /* processes the kernel's OOM killer killed in the cgroup */
  bool oom_limit_hit; /* v1: memory.failcnt > 0 or under_oom seen */
} cgroup_stats;

/* The mode of /sys/fs/cgroup, detected once per process. */
cgroup_mode cgroup_host_mode (void);

/* Does ahead what the process's first cgroup_create does once (the mode, the unified
 * hierarchy's mount options), for a process that has time to spare before it. */
void cgroup_prepare (void);

/* Creates the cgroup in every hierarchy and applies the limits. On success with a unified
 * hierarchy (hybrid, v2), *out_unified_fd is an O_DIRECTORY fd for CLONE_INTO_CGROUP, else -1.
 * On failure, whatever was created is removed. */
int cgroup_create (const char *path, const cgroup_limits *limits, int *out_unified_fd,
                   box_error **err);

/* Moves pid into the cgroup of every v1 hierarchy (the unified one too unless
 * skip_unified: the caller placed it there with CLONE_INTO_CGROUP). pid 0: the caller. */
int cgroup_attach (const char *path, pid_t pid, bool skip_unified, box_error **err);

/* Signals every process of the cgroup. SIGKILL on a unified hierarchy uses cgroup.kill. */
int cgroup_kill (const char *path, int signal, box_error **err);

/* True when some process is still in the cgroup. */
bool cgroup_populated (const char *path);

/* The pids (as this process's pid namespace numbers them, sorted) of every process in the
 * cgroup and its descendant cgroups, read from the hierarchy that tracks the box: the unified
 * one (v2, hybrid), else a v1 hierarchy of box's controllers; with member > 0, the first of
 * those whose list holds member (the box's init), so a runtime that placed the box in only
 * some hierarchies is still read right. BOX_E_NOT_FOUND when the cgroup exists in none of
 * them. *out is malloc'ed. */
int cgroup_list_pids (const char *path, pid_t member, pid_t **out, size_t *out_n,
                      box_error **err);

/* Removes the cgroup from every hierarchy; waits up to timeout_ms for it to empty.
 * A missing cgroup is fine. */
int cgroup_destroy (const char *path, int timeout_ms, box_error **err);

int cgroup_read_stats (const char *path, cgroup_stats *out, box_error **err);

/* Only cgroup_stats.oom_kills: the one file of the two to eight cgroup_read_stats reads. */
int cgroup_read_oom_kills (const char *path, uint64_t *out, box_error **err);

#endif
