/* Owns fd passing over unix sockets (util/fdpass.h). */
#include "util/fdpass.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef union fd_control {
  char buf[CMSG_SPACE (FD_PASS_MAX * sizeof (int))];
  struct cmsghdr align;
} fd_control;

ssize_t
fd_receive_many (int sock, void *buf, size_t len, int *fds, size_t max_fds, size_t *n_fds,
                 bool *truncated)
{
  *n_fds = 0;
  *truncated = false;
  struct iovec iov = { buf, len };
  fd_control control;
  struct msghdr mh = { .msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = control.buf,
                       .msg_controllen = sizeof control.buf };
  ssize_t n;
  do
    n = recvmsg (sock, &mh, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return -errno;
  for (struct cmsghdr *c = CMSG_FIRSTHDR (&mh); c; c = CMSG_NXTHDR (&mh, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
      {
        size_t count = (c->cmsg_len - CMSG_LEN (0)) / sizeof (int);
        for (size_t i = 0; i < count; i++)
          {
            int fd;
            memcpy (&fd, CMSG_DATA (c) + i * sizeof (int), sizeof fd);
            if (*n_fds < max_fds)
              fds[(*n_fds)++] = fd;
            else
              {
                close (fd);
                *truncated = true;
              }
          }
      }
  if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
    *truncated = true;
  return n;
}

ssize_t
fd_receive (int sock, void *buf, size_t len, int *out_fd)
{
  int fds[FD_PASS_MAX];
  size_t n_fds;
  bool truncated;
  ssize_t n = fd_receive_many (sock, buf, len, fds, FD_PASS_MAX, &n_fds, &truncated);
  for (size_t i = 0; i < n_fds; i++)
    {
      if (i == n_fds - 1)
        *out_fd = fds[i];
      else
        close (fds[i]);
    }
  return n;
}

ssize_t
fd_send (int sock, const void *buf, size_t len, const int *fds, size_t n_fds)
{
  if (n_fds > FD_PASS_MAX)
    return -EINVAL;
  struct iovec iov = { (void *) buf, len };
  fd_control control;
  memset (&control, 0, sizeof control);
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
  if (n_fds)
    {
      mh.msg_control = control.buf;
      mh.msg_controllen = CMSG_SPACE (n_fds * sizeof (int));
      struct cmsghdr *c = CMSG_FIRSTHDR (&mh);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN (n_fds * sizeof (int));
      memcpy (CMSG_DATA (c), fds, n_fds * sizeof (int));
    }
  ssize_t n;
  do
    n = sendmsg (sock, &mh, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n < 0 ? -errno : n;
}
