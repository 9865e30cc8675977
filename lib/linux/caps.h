/* Linux capabilities: names ("CAP_NET_RAW" <-> 13), docker's default set, and applying the
 * five sets (bounding, effective, permitted, inheritable, ambient) to the calling process with
 * raw syscalls (the native runtime calls this between clone and execve). */
#ifndef BOX_LINUX_CAPS_H
#define BOX_LINUX_CAPS_H

#include <stdbool.h>
#include <stdint.h>

/* Highest capability number this build knows (CAP_CHECKPOINT_RESTORE = 40). */
#define CAPS_LAST 40

/* Bit (1 << CAP_X) per capability in docker's default set. */
uint64_t caps_docker_default (void);

/* Every capability this build knows. */
uint64_t caps_all (void);

/* The number of "CAP_NET_RAW", "NET_RAW" or "net_raw"; -1 when unknown. */
int caps_from_name (const char *name);

/* Whether name is docker's "ALL" ("all", "CAP_ALL"): every capability, in --cap-add or
 * --cap-drop. */
bool caps_name_is_all (const char *name);

/* "CAP_NET_RAW" for 13; NULL when out of range. */
const char *caps_name (int cap);

/* The five sets of a process, as bit masks. */
typedef struct caps_sets {
  uint64_t bounding;
  uint64_t effective;
  uint64_t permitted;
  uint64_t inheritable;
  uint64_t ambient;
} caps_sets;

/* Drops from the bounding set every capability not in sets->bounding, up to the kernel's
 * last capability. Returns 0 or -errno; *failed_cap says which capability failed. */
int caps_drop_bounding (uint64_t bounding, int *failed_cap);

/* Sets effective, permitted and inheritable with capset(2), then raises the ambient set.
 * Returns 0 or -errno. */
int caps_apply (const caps_sets *sets, int *failed_cap);

#endif
