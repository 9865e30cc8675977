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
  cpu_set_t now;
  if (sched_getaffinity (0, sizeof now, &now) == 0 && CPU_EQUAL (&now, moved_to))
    sched_setaffinity (0, sizeof *own, own);
}
