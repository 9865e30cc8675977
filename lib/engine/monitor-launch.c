/* Owns starting monitor programs (monitor-launch.h): posix_spawn with the fds at their slot
 * numbers, and the spare monitor an engine spawns ahead and hands a start to over a socket
 * (the protocol is in lifecycle.h, at MONITOR_SPARE_FD). */
#include "engine/monitor-launch.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fdpass.h"

extern char **environ;

/* room in a spare's command line for the box id that replaces it (setproctitle-style: the
 * kernel shows what the argument area holds) */
static const char spare_placeholder[] = "----------------------------------------------------------------";

static int
spawn_program (const char *program, const char *const *argv, posix_spawn_file_actions_t *fa,
               pid_t *out_pid, box_error **err)
{
  posix_spawnattr_t attr;
  posix_spawnattr_init (&attr);
  /* a fresh signal state whatever the embedding program did with its own */
  sigset_t none, all;
  sigemptyset (&none);
  sigfillset (&all);
  posix_spawnattr_setsigmask (&attr, &none);
  posix_spawnattr_setsigdefault (&attr, &all);
  posix_spawnattr_setflags (&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
                                       | POSIX_SPAWN_SETSID);
  int rc = posix_spawn (out_pid, program, fa, &attr, (char *const *) argv, environ);
  posix_spawnattr_destroy (&attr);
  if (rc != 0)
    return box_err_errno (err, rc, "spawn %s", program);
  return 0;
}

static void
reap (pid_t pid)
{
  while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
    ;
}

/* The spare's spawn runs on a thread of its own: posix_spawn returns only once the child has
 * exec'd (vfork), a third of a millisecond the caller spends creating the box instead. */
typedef struct spare_spawn {
  pthread_t thread;
  char *program; /* found by the thread */
  char *root;
  int child_end; /* the spare's end of the socket pair, closed once it is spawned */
  pid_t pid;     /* 0 when the spawn failed */
} spare_spawn;

static void *
spawn_spare (void *arg)
{
  spare_spawn *s = arg;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init (&fa);
  for (int i = 0; i < 3; i++)
    posix_spawn_file_actions_addopen (&fa, i, "/dev/null", i == 0 ? O_RDONLY : O_WRONLY, 0);
  posix_spawn_file_actions_adddup2 (&fa, s->child_end, MONITOR_SPARE_FD);
  const char *argv[] = { "box-monitor", s->root, MONITOR_SPARE_ARG, spare_placeholder, NULL };
  box_error *ignored = NULL;
  if (engine_find_helper ("box-monitor", &s->program, &ignored) < 0
      || spawn_program (s->program, argv, &fa, &s->pid, &ignored) < 0)
    s->pid = 0;
  box_error_free (ignored);
  posix_spawn_file_actions_destroy (&fa);
  close (s->child_end);
  return NULL;
}

/* Waits for the spawn; the spare's pid, 0 when there is none. */
static pid_t
join_spare_spawn (box_engine *eng)
{
  spare_spawn *s = eng->spare_spawn;
  if (!s)
    return eng->spare_pid;
  pthread_join (s->thread, NULL);
  eng->spare_pid = s->pid;
  free (s->program);
  free (s->root);
  free (s);
  eng->spare_spawn = NULL;
  if (!eng->spare_pid && eng->spare_fd >= 0)
    {
      close (eng->spare_fd);
      eng->spare_fd = -1;
    }
  return eng->spare_pid;
}

void
monitor_spare_prepare (box_engine *eng)
{
  if (eng->spare_fd >= 0)
    return;
  spare_spawn *s = calloc (1, sizeof *s);
  int pair[2];
  if (!s || socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
    {
      free (s);
      return;
    }
  s->root = strdup (eng->root);
  s->child_end = pair[1];
  if (!s->root || pthread_create (&s->thread, NULL, spawn_spare, s) != 0)
    {
      close (pair[0]);
      close (pair[1]);
      free (s->root);
      free (s);
      return;
    }
  eng->spare_fd = pair[0];
  eng->spare_spawn = s;
}

void
monitor_spare_release (box_engine *eng)
{
  join_spare_spawn (eng);
  if (eng->spare_fd >= 0)
    close (eng->spare_fd);
  eng->spare_fd = -1;
  if (eng->spare_pid > 0)
    reap (eng->spare_pid);
  eng->spare_pid = 0;
}

static int
spawn_fresh (box_engine *eng, const monitor_launch *l, pid_t *out_pid, box_error **err)
{
  _cleanup_free_ char *program = NULL;
  if (engine_find_helper ("box-monitor", &program, err) < 0)
    return box_err_code (err);
  const char *argv[MONITOR_LAUNCH_MAX_ARGS + 3];
  size_t n = 0;
  argv[n++] = "box-monitor";
  argv[n++] = eng->root;
  for (size_t i = 0; i < l->n_args; i++)
    argv[n++] = l->args[i];
  argv[n] = NULL;

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init (&fa);
  for (int slot = 0; slot < MONITOR_FD_SLOTS; slot++)
    {
      if (l->fds[slot] >= 0)
        posix_spawn_file_actions_adddup2 (&fa, l->fds[slot], slot);
      else if (slot < 3)
        posix_spawn_file_actions_addopen (&fa, slot, "/dev/null", slot == 0 ? O_RDONLY : O_WRONLY,
                                          0);
    }
  int rc = spawn_program (program, argv, &fa, out_pid, err);
  posix_spawn_file_actions_destroy (&fa);
  return rc;
}

/* Sends the start to the spare; false when it is gone (the caller spawns instead). */
static bool
hand_to_spare (box_engine *eng, const monitor_launch *l)
{
  char payload[MONITOR_SPARE_MESSAGE_MAX];
  uint32_t mask = 0;
  int fds[MONITOR_FD_SLOTS];
  size_t n_fds = 0;
  for (int slot = 0; slot < MONITOR_FD_SLOTS; slot++)
    if (l->fds[slot] >= 0)
      {
        mask |= 1u << slot;
        fds[n_fds++] = l->fds[slot];
      }
  memcpy (payload, &mask, sizeof mask);
  size_t used = sizeof mask;
  for (size_t i = 0; i < l->n_args; i++)
    {
      size_t len = strlen (l->args[i]) + 1;
      if (used + len > sizeof payload)
        return false;
      memcpy (payload + used, l->args[i], len);
      used += len;
    }
  return fd_send (eng->spare_fd, payload, used, fds, n_fds) == (ssize_t) used;
}

int
monitor_launch_start (box_engine *eng, const monitor_launch *l, pid_t *out_pid,
                      box_error **err)
{
  if (eng->spare_fd >= 0 && join_spare_spawn (eng) > 0)
    {
      bool handed = hand_to_spare (eng, l);
      pid_t spare = eng->spare_pid;
      close (eng->spare_fd);
      eng->spare_fd = -1;
      eng->spare_pid = 0;
      if (handed)
        {
          *out_pid = spare;
          return 0;
        }
      reap (spare); /* it died before its turn: spawn one */
    }
  return spawn_fresh (eng, l, out_pid, err);
}
