/* Facts about host processes read from /proc: enough to tell a live process from a recycled
 * pid, and to list the processes of a box. */
#ifndef BOX_LINUX_PROC_H
#define BOX_LINUX_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The process's start time in clock ticks since boot (field 22 of /proc/PID/stat); 0 when
 * the process does not exist. A (pid, start time) pair names one process forever. */
int64_t proc_start_ticks (pid_t pid);

/* True when pid exists and started at start_ticks. */
bool proc_is_alive (pid_t pid, int64_t start_ticks);

#endif
