/* Receiving a file descriptor passed over a unix socket (SCM_RIGHTS). */
#ifndef BOX_UTIL_FDPASS_H
#define BOX_UTIL_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

/* Receives one message of at most len bytes on sock, EINTR retried. An fd that came with it
 * (close-on-exec) is stored in *out_fd, which is left as it is when none came. Returns the
 * bytes received (0: end of stream), -errno on failure. */
ssize_t fd_receive (int sock, void *buf, size_t len, int *out_fd);

#endif
