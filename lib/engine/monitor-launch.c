/* Owns starting monitor programs (monitor-launch.h): spawned detached with the fds at their
 * slot numbers, and the spare monitor an engine spawns ahead and hands a start to over a socket
 * (the protocol is in lifecycle.h, at MONITOR_SPARE_FD). */
#include "engine/monitor-launch.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "linux/cpus.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/fdpass.h"

extern char **environ;

/* room in a spare's command line for the box id that replaces it (setproctitle-style: the
 * kernel shows what the argument area holds) */
static const char spare_placeholder[]
    = "----------------------------------------------------------------";

/* A monitor is nobody's child: it outlives the program that started it, which must not find
 * it as a zombie later, nor have to wait for it. So it is started detached, by two clones that
 * share this process's memory the way vfork does (no page tables copied, nothing written
 * twice): the first child clones the second and exits at once, and the second, now reparented
 * to init (or the nearest subreaper), sets itself up and execs the program. The caller resumes
 * once the program has exec'd and reaps the first child. Both children only make system calls
 * (this process's other threads go on using its memory meanwhile) and run with every signal
 * blocked until the program's fresh signal state is in place. */
#define DETACHED_STACK_SIZE (16 * 1024)
/* the monitor's fd slots and the spare's socket */
#define DETACHED_FD_SLOTS (MONITOR_SPARE_FD + 1)

typedef struct detached_spawn {
  const char *program;
  char *const *argv;
  const int *fds; /* fds[slot] for each slot below DETACHED_FD_SLOTS; -1: /dev/null (stdio),
                     else none */
  char *exec_stack_top;
  const cpu_set_t *cpus; /* given back to the program before it execs, NULL: unchanged */
  pid_t pid;             /* the program's, set by the first child */
  int exec_errno;        /* why the program could not be started, set by the second */
} detached_spawn;

static int
detached_exec (void *arg)
{
  detached_spawn *d = arg;
  /* the program's own session, and its signal state afresh */
  if (setsid () < 0)
    goto fail;
  struct sigaction dfl = { .sa_handler = SIG_DFL };
  for (int sig = 1; sig < NSIG; sig++)
    sigaction (sig, &dfl, NULL); /* EINVAL for SIGKILL, SIGSTOP and glibc's own: fine */
  /* each fd to its slot: first above every slot, so that no slot overwrites a source */
  int moved[DETACHED_FD_SLOTS];
  for (int slot = 0; slot < DETACHED_FD_SLOTS; slot++)
    {
      moved[slot] = -1;
      if (d->fds[slot] >= 0
          && (moved[slot] = fcntl (d->fds[slot], F_DUPFD_CLOEXEC, DETACHED_FD_SLOTS)) < 0)
        goto fail;
    }
  for (int slot = 0; slot < DETACHED_FD_SLOTS; slot++)
    {
      int fd = moved[slot];
      if (fd < 0 && slot < 3)
        fd = open ("/dev/null", (slot == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
      if (fd < 0)
        {
          if (slot < 3)
            goto fail;
          close (slot); /* an fd the caller left there is not the monitor's */
          continue;
        }
      if (dup2 (fd, slot) < 0)
        goto fail;
    }
  /* nothing else of the caller's (fds it left without close-on-exec) reaches the program,
     nor the boxes it starts */
  fs_cloexec_from (DETACHED_FD_SLOTS);
  sigset_t none;
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  if (d->cpus && sched_setaffinity (0, sizeof *d->cpus, d->cpus) < 0)
    {
      /* the caller's CPUs are no longer allowed (its cpuset changed): every allowed one */
      cpu_set_t all;
      memset (&all, 0xff, sizeof all);
      sched_setaffinity (0, sizeof all, &all);
    }
  execve (d->program, d->argv, environ);
fail:
  d->exec_errno = errno;
  _exit (127);
}

static int
detached_fork (void *arg)
{
  detached_spawn *d = arg;
  d->pid = clone (detached_exec, d->exec_stack_top, CLONE_VM | CLONE_VFORK | SIGCHLD, d);
  if (d->pid < 0)
    d->exec_errno = errno;
  _exit (0);
}

static int
spawn_detached (const char *program, const char *const *argv, const int *fds, const cpu_set_t *cpus,
                box_error **err)
{
  /* the children's stacks: this frame is suspended while they run (CLONE_VFORK) */
  _Alignas(16) char fork_stack[DETACHED_STACK_SIZE];
  _Alignas(16) char exec_stack[DETACHED_STACK_SIZE];
  detached_spawn d = { .program = program,
                       .argv = (char *const *) argv,
                       .fds = fds,
                       .exec_stack_top = exec_stack + sizeof exec_stack,
                       .cpus = cpus,
                       .pid = -1 };
  sigset_t all, saved;
  sigfillset (&all);
  pthread_sigmask (SIG_SETMASK, &all, &saved);
  pid_t first
      = clone (detached_fork, fork_stack + sizeof fork_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &d);
  int clone_errno = errno;
  pthread_sigmask (SIG_SETMASK, &saved, NULL);
  if (first < 0)
    return box_err_errno (err, clone_errno, "spawn %s", program);
  while (waitpid (first, NULL, 0) < 0 && errno == EINTR)
    ;
  if (d.pid < 0 || d.exec_errno)
    return box_err_errno (err, d.exec_errno ? d.exec_errno : EIO, "spawn %s", program);
  return 0;
}

/* The spare's spawn runs on a thread of its own: spawn_detached returns only once the
 * program has exec'd, a third of a millisecond the caller spends creating the box instead.
 * The thread and the children it clones run beside the caller (linux/cpus.h), off its CPU,
 * until the exec gives the program the caller's CPUs back: queued behind the caller, the
 * spare got ready only once the caller waited for it. */
typedef struct spare_spawn {
  pthread_t thread;
  char *program; /* found by the thread */
  char *root;
  int child_end; /* the spare's end of the socket pair, closed once it is spawned */
  bool beside;   /* the thread runs off the caller's CPU: the program gets caller_cpus back */
  cpu_set_t caller_cpus;
  bool spawned;
} spare_spawn;

static void *
spawn_spare (void *arg)
{
  spare_spawn *s = arg;
  int fds[DETACHED_FD_SLOTS];
  for (int slot = 0; slot < DETACHED_FD_SLOTS; slot++)
    fds[slot] = slot == MONITOR_SPARE_FD ? s->child_end : -1;
  const char *argv[] = { "box-monitor", s->root, MONITOR_SPARE_ARG, spare_placeholder, NULL };
  box_error *ignored = NULL;
  s->spawned
      = engine_find_helper ("box-monitor", &s->program, &ignored) == 0
        && spawn_detached (s->program, argv, fds, s->beside ? &s->caller_cpus : NULL, &ignored)
               == 0;
  box_error_free (ignored);
  close (s->child_end);
  return NULL;
}

static int
start_spare_thread (spare_spawn *s)
{
  pthread_attr_t attr;
  if (pthread_attr_init (&attr) != 0)
    return -1;
  cpu_set_t others;
  s->beside = cpus_beside_current (&s->caller_cpus, &others)
              && pthread_attr_setaffinity_np (&attr, sizeof others, &others) == 0;
  int rc = pthread_create (&s->thread, &attr, spawn_spare, s);
  pthread_attr_destroy (&attr);
  if (rc != 0 && s->beside)
    {
      /* CPUs refused meanwhile (a cpuset changed): anywhere, then */
      s->beside = false;
      rc = pthread_create (&s->thread, NULL, spawn_spare, s);
    }
  return rc == 0 ? 0 : -1;
}

/* Waits for the spawn; whether there is a spare (then eng->spare_fd is its socket). */
static bool
join_spare_spawn (box_engine *eng)
{
  spare_spawn *s = eng->spare_spawn;
  if (s)
    {
      pthread_join (s->thread, NULL);
      if (!s->spawned && eng->spare_fd >= 0)
        {
          close (eng->spare_fd);
          eng->spare_fd = -1;
        }
      free (s->program);
      free (s->root);
      free (s);
      eng->spare_spawn = NULL;
    }
  return eng->spare_fd >= 0;
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
  if (!s->root || start_spare_thread (s) < 0)
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
}

static int
spawn_fresh (box_engine *eng, const monitor_launch *l, box_error **err)
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

  int fds[DETACHED_FD_SLOTS];
  for (int slot = 0; slot < DETACHED_FD_SLOTS; slot++)
    fds[slot] = slot < MONITOR_FD_SLOTS ? l->fds[slot] : -1;
  return spawn_detached (program, argv, fds, NULL, err);
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
monitor_launch_start (box_engine *eng, const monitor_launch *l, box_error **err)
{
  if (eng->spare_fd >= 0 && join_spare_spawn (eng))
    {
      bool handed = hand_to_spare (eng, l);
      close (eng->spare_fd);
      eng->spare_fd = -1;
      if (handed)
        return 0;
      /* it died before its turn: spawn one */
    }
  return spawn_fresh (eng, l, err);
}
