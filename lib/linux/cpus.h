/* Where work that runs beside its starter is placed. A process or thread a busy caller starts
 * is often queued on the caller's own CPU, where it waits until the caller blocks (the
 * scheduler moves it to an idle CPU only at its next balancing, milliseconds later): work
 * meant to overlap the caller's then follows it instead. Keeping such work off the caller's
 * CPU for a while makes the overlap real. */
#ifndef BOX_LINUX_CPUS_H
#define BOX_LINUX_CPUS_H

#include <sched.h>
#include <stdbool.h>

/* The calling thread's CPUs (*own) and the same without the CPU it runs on now (*others).
 * False when no other CPU is left or the kernel does not say: start the work anywhere. */
bool cpus_beside_current (cpu_set_t *own, cpu_set_t *others);

/* Gives the calling thread back its CPUs (own) if it still runs within the set it was moved
 * to (moved_to; a cpuset may have narrowed it, and narrows own alike); a set that something
 * else widened (a cpuset the thread joined) stays as it is. */
void cpus_restore_if_unchanged (const cpu_set_t *own, const cpu_set_t *moved_to);

#endif
