/* The spare monitor's wait for its box (the protocol is in engine/lifecycle.h, at
 * MONITOR_SPARE_FD). */
#ifndef BOX_MONITOR_SPARE_H
#define BOX_MONITOR_SPARE_H

/* Holds the fd slots above stdio with /dev/null until the start fills them, so that what
 * the spare opens meanwhile (its network namespace) gets other numbers. */
void monitor_spare_reserve_slots (void);

/* Makes a network namespace for the box ahead (the spare stays in the host's): *out_fd, -1
 * when the kernel refused one (the box's init then makes its own). -1 when the spare could
 * not return to the host's network namespace: it must not serve a box. */
int monitor_spare_prepare_net_ns (int *out_fd);

/* Waits for the start on MONITOR_SPARE_FD, puts the fds it carries at their slots, and
 * rewrites the process's command line to "box-monitor ROOT ID". argc and argv become the
 * command line a spawned monitor would have had (static storage). 0 with
 * *argc 0: nobody needs the spare. -1: a broken message (the caller exits). */
int monitor_spare_wait (int *argc, char ***argv);

#endif
