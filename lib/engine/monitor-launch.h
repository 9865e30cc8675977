/* Starting a box's monitor program: a fresh spawn, or the engine's spare monitor (one spawned
 * ahead when the engine was opened with BOX_ENGINE_PREPARE_START, so that its program startup
 * and its store open overlap the caller's create). Either way the monitor finds its fds at the
 * numbers lifecycle.h gives them. */
#ifndef BOX_ENGINE_MONITOR_LAUNCH_H
#define BOX_ENGINE_MONITOR_LAUNCH_H

#include <sys/types.h>

#include "engine/engine.h"
#include "engine/lifecycle.h"

#define MONITOR_LAUNCH_MAX_ARGS 16

typedef struct monitor_launch {
  /* the command line after "box-monitor ROOT": the box's id, then options */
  const char *args[MONITOR_LAUNCH_MAX_ARGS];
  size_t n_args;
  /* the fd each slot gets (0-2: stdio, then MONITOR_SYNC_FD...); -1: none (/dev/null for
   * stdio) */
  int fds[MONITOR_FD_SLOTS];
} monitor_launch;

/* Spawns the engine's spare monitor. Best effort: a spare that cannot be had only means the
 * next start spawns its monitor itself. */
void monitor_spare_prepare (box_engine *eng);
/* Lets an unused spare go (it exits). */
void monitor_spare_release (box_engine *eng);

/* Starts a monitor with l: hands it to the spare when there is one, else spawns one. Either
 * way the monitor is not the caller's child (it is reparented to init or the nearest
 * subreaper), and reports on the fds of l. */
int monitor_launch_start (box_engine *eng, const monitor_launch *l, box_error **err);

#endif
