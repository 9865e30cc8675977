/* Owns placing work beside its starter (cpus.h). */
#include "linux/cpus.h"

bool
cpus_beside_current (cpu_set_t *own, cpu_set_t *others)
{
  int cpu = sched_getcpu ();
  if (cpu < 0 || cpu >= CPU_SETSIZE || sched_getaffinity (0, sizeof *own, own) < 0
      || !CPU_ISSET (cpu, own) || CPU_COUNT (own) < 2)
    return false;
  *others = *own;
  CPU_CLR (cpu, others);
  return true;
}

void
cpus_restore_if_unchanged (const cpu_set_t *own, const cpu_set_t *moved_to)
{
  /* within moved_to: as moved, or narrowed by a cpuset since (the kernel narrows own the
   * same way); a set beyond it was given by something else (a cpuset joined) */
  cpu_set_t now, within;
  if (sched_getaffinity (0, sizeof now, &now) < 0)
    return;
  CPU_AND (&within, &now, moved_to);
  if (CPU_EQUAL (&within, &now))
    sched_setaffinity (0, sizeof *own, own);
}
