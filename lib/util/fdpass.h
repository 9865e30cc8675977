/* Passing file descriptors over unix sockets (SCM_RIGHTS). */
#ifndef BOX_UTIL_FDPASS_H
#define BOX_UTIL_FDPASS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The most fds one message carries here. */
#define FD_PASS_MAX 16

/* Receives one message of at most len bytes on sock, EINTR retried. An fd that came with it
 * (close-on-exec) is stored in *out_fd, which is left as it is when none came. Returns the
 * bytes received (0: end of stream), -errno on failure. */
ssize_t fd_receive (int sock, void *buf, size_t len, int *out_fd);

/* The same for up to max_fds fds (at most FD_PASS_MAX), stored in fds and counted in *n_fds
 * (those beyond max_fds are closed); *truncated when the message or its fds did not fit. */
ssize_t fd_receive_many (int sock, void *buf, size_t len, int *fds, size_t max_fds,
                         size_t *n_fds, bool *truncated);

/* Sends one message with n_fds fds (at most FD_PASS_MAX), EINTR retried, without SIGPIPE.
 * Returns the bytes sent, -errno on failure. */
ssize_t fd_send (int sock, const void *buf, size_t len, const int *fds, size_t n_fds);

#endif
