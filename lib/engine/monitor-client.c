/* Owns the client side of a monitor's socket: connecting and one request/reply. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "engine/lifecycle.h"
#include "util/cleanup.h"

int
monitor_connect (const char *root, const char *id, int *out_fd, box_error **err)
{
  _cleanup_free_ char *dir = NULL;
  if (engine_box_dir (root, id, &dir, err) < 0)
    return box_err_code (err);
  /* socket paths are limited to 108 bytes and state directories can be long: reach the
   * socket through a short /proc/self/fd path to its directory */
  _cleanup_close_ int dir_fd = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0)
    return box_err_errno (err, errno, "open %s", dir);
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  snprintf (addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/" ENGINE_MONITOR_SOCKET,
            dir_fd);
  _cleanup_close_ int fd = socket (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return box_err_errno (err, errno, "socket");
  int rc;
  do
    rc = connect (fd, (struct sockaddr *) &addr, sizeof addr);
  while (rc < 0 && errno == EINTR);
  if (rc < 0)
    {
      if (errno == ENOENT || errno == ECONNREFUSED)
        return box_err (err, BOX_E_NOT_FOUND, "the monitor of box %s is not running", id);
      return box_err_errno (err, errno, "connect to the monitor of box %s", id);
    }
  *out_fd = TAKE_FD (fd);
  return 0;
}

int
monitor_request (int fd, const char *request, char *reply, size_t reply_size, box_error **err)
{
  ssize_t n;
  do
    n = send (fd, request, strlen (request), MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return box_err_errno (err, errno, "send \"%s\" to the monitor", request);
  do
    n = recv (fd, reply, reply_size - 1, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return box_err_errno (err, errno, "read the monitor's reply to \"%s\"", request);
  if (n == 0)
    return box_err (err, BOX_E_IO, "the monitor exited before answering \"%s\"", request);
  reply[n] = '\0';
  return 0;
}

int
monitor_reply_error (const char *reply, const char *fallback, box_error **err)
{
  char *end;
  long code = strtol (reply + strlen ("ERR "), &end, 10);
  if (code >= 0 || code < BOX_E_PERMISSION)
    code = BOX_E_INTERNAL;
  return box_err (err, (box_error_code) code, "%s", *end ? end + 1 : fallback);
}
