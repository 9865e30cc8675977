/* Device access rules on a cgroup v2 hierarchy, which has no devices controller: an eBPF
 * program of type BPF_PROG_TYPE_CGROUP_DEVICE, built from the v1-style rules the runtime
 * already writes for v1 hosts, asked by the kernel on every mknod and open of a device node
 * by a process of the cgroup (or of its descendants). */
#ifndef BOX_LINUX_CGROUP_DEVICE_H
#define BOX_LINUX_CGROUP_DEVICE_H

#include <linux/bpf.h>
#include <stddef.h>

#include "util/error.h"

/* Translates rules ("+c 1:3 rwm\n-a *:* rwm\n", one per line, '+' allow, '-' deny, type a, c
 * or b, major and minor numbers or '*', access a subset of "rwm") into the program, with the
 * v1 controller's meaning: a rule of type a with *:* sets the default and drops the rules
 * before it, later rules win over earlier ones. An allow rule matches an access it covers
 * entirely, a deny rule one it covers in part. *out is malloc'ed. */
int cgroup_device_program_build (const char *rules, struct bpf_insn **out, size_t *out_count,
                                 box_error **err);

/* Loads the program for rules and attaches it to the cgroup (an O_DIRECTORY fd of its
 * directory in the unified hierarchy). The attachment lives as long as the cgroup. */
int cgroup_device_filter_attach (int cgroup_fd, const char *rules, box_error **err);

#endif
