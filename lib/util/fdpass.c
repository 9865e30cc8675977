/* Owns fd passing over unix sockets (util/fdpass.h). */
#include "util/fdpass.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

ssize_t
fd_receive (int sock, void *buf, size_t len, int *out_fd)
{
  struct iovec iov = { buf, len };
  union {
    char buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } control;
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
      memcpy (out_fd, CMSG_DATA (c), sizeof (int));
  return n;
}
