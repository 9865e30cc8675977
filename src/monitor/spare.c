/* Owns the spare monitor's side of its start: one message with the box's command line and
 * fds, received before anything of a box is known. */
#include "spare.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "engine/lifecycle.h"
#include "linux/net.h"
#include "util/fdpass.h"

/* fds received land on the lowest free numbers, which may be slots still to fill: each
 * goes above them first */
#define SPARE_PARK_FD 32
/* more than a spawned monitor's command line ever has */
#define MONITOR_SPARE_MAX_ARGS 32

/* Shows argv as "box-monitor ROOT ID" in /proc/<pid>/cmdline, in the area the spare's
 * placeholder arguments occupy (argv[2] up to the end of the last one). */
static void
rewrite_command_line (int argc, char **argv, const char *id)
{
  char *area = argv[2];
  char *end = argv[argc - 1] + strlen (argv[argc - 1]);
  size_t room = (size_t) (end - area);
  size_t len = strlen (id);
  if (len > room)
    len = room;
  memcpy (area, id, len);
  memset (area + len, '\0', room - len);
}

void
monitor_spare_reserve_slots (void)
{
  int null_fd = open ("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0)
    return;
  for (int slot = 3; slot < MONITOR_FD_SLOTS; slot++)
    if (slot != null_fd)
      dup3 (null_fd, slot, O_CLOEXEC);
  if (null_fd >= MONITOR_FD_SLOTS)
    close (null_fd);
}

int
monitor_spare_prepare_net_ns (int *out_fd)
{
  *out_fd = -1;
  int host = open ("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (host < 0)
    return 0;
  if (unshare (CLONE_NEWNET) == 0)
    {
      *out_fd = open ("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
      net_loopback_up (); /* the box's init checks again */
      if (setns (host, CLONE_NEWNET) < 0)
        {
          close (host);
          return -1;
        }
    }
  close (host);
  return 0;
}

int
monitor_spare_wait (int *argc, char ***argv)
{
  /* static: the command line built from it lives as long as the process */
  static char payload[MONITOR_SPARE_MESSAGE_MAX + 1];
  static char *args[MONITOR_SPARE_MAX_ARGS + 1];
  int fds[MONITOR_FD_SLOTS];
  size_t n_fds;
  bool truncated;
  ssize_t n = fd_receive_many (MONITOR_SPARE_FD, payload, MONITOR_SPARE_MESSAGE_MAX, fds,
                               MONITOR_FD_SLOTS, &n_fds, &truncated);
  close (MONITOR_SPARE_FD);
  if (n == 0)
    {
      *argc = 0;
      return 0;
    }
  uint32_t mask;
  if (n < (ssize_t) sizeof mask || truncated)
    goto broken;
  memcpy (&mask, payload, sizeof mask);
  size_t expected = (size_t) __builtin_popcount (mask);
  if (mask >> MONITOR_FD_SLOTS || expected != n_fds)
    goto broken;

  for (size_t i = 0; i < n_fds; i++)
    {
      int parked = fcntl (fds[i], F_DUPFD_CLOEXEC, SPARE_PARK_FD);
      if (parked < 0)
        goto broken;
      close (fds[i]);
      fds[i] = parked;
    }
  size_t next = 0;
  for (int slot = 0; slot < MONITOR_FD_SLOTS; slot++)
    {
      if (!(mask & (1u << slot)))
        {
          if (slot >= 3)
            close (slot); /* its reservation; the spare's own stdio is /dev/null already */
          continue;
        }
      if (dup2 (fds[next], slot) < 0)
        goto broken;
      close (fds[next]);
      fds[next++] = -1;
    }

  /* the command line: the spare's program and root, then what the message says */
  payload[n] = '\0';
  args[0] = (*argv)[0];
  args[1] = (*argv)[1];
  size_t k = 2;
  for (char *p = payload + sizeof mask; p < payload + n; p += strlen (p) + 1)
    {
      if (k >= MONITOR_SPARE_MAX_ARGS)
        return -1;
      args[k++] = p;
    }
  args[k] = NULL;
  if (k < 3)
    return -1;
  rewrite_command_line (*argc, *argv, args[2]);
  *argc = (int) k;
  *argv = args;
  return 0;

broken:
  for (size_t i = 0; i < n_fds; i++)
    if (fds[i] >= 0)
      close (fds[i]);
  return -1;
}
