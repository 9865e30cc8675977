/* Passing fds over unix sockets: what the spare monitor's hand-off and the runtimes' consoles
 * stand on. */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fdpass.h"

static void
pair (int sv[2])
{
  assert_int_equal (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
}

/* The same open file: same device and inode. */
static void
assert_same_file (int a, int b)
{
  struct stat sa, sb;
  assert_int_equal (fstat (a, &sa), 0);
  assert_int_equal (fstat (b, &sb), 0);
  assert_true (sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino);
}

static void
test_round_trip (void **state)
{
  int sv[2];
  pair (sv);
  int p1[2], p2[2];
  assert_int_equal (pipe (p1), 0);
  assert_int_equal (pipe (p2), 0);
  int sent[3] = { p1[0], p2[1], STDIN_FILENO };
  assert_int_equal (fd_send (sv[0], "hello", 5, sent, 3), 5);

  char buf[16];
  int got[4];
  size_t n;
  bool truncated;
  assert_int_equal (fd_receive_many (sv[1], buf, sizeof buf, got, 4, &n, &truncated), 5);
  assert_false (truncated);
  assert_int_equal (n, 3);
  assert_memory_equal (buf, "hello", 5);
  for (size_t i = 0; i < n; i++)
    {
      assert_same_file (sent[i], got[i]);
      assert_true (fcntl (got[i], F_GETFD) & FD_CLOEXEC);
      close (got[i]);
    }

  /* a message without fds, then the end of the stream */
  assert_int_equal (fd_send (sv[0], "x", 1, NULL, 0), 1);
  assert_int_equal (fd_receive_many (sv[1], buf, sizeof buf, got, 4, &n, &truncated), 1);
  assert_int_equal (n, 0);
  close (sv[0]);
  assert_int_equal (fd_receive_many (sv[1], buf, sizeof buf, got, 4, &n, &truncated), 0);
  close (sv[1]);
  close (p1[0]);
  close (p1[1]);
  close (p2[0]);
  close (p2[1]);
}

static void
test_what_does_not_fit_is_said (void **state)
{
  int sv[2];
  pair (sv);
  int sent[3] = { STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO };
  assert_int_equal (fd_send (sv[0], "0123456789", 10, sent, 3), 10);
  char buf[4];
  int got[2];
  size_t n;
  bool truncated;
  /* too small for the bytes and the fds: the fds beyond room are closed, not leaked */
  assert_int_equal (fd_receive_many (sv[1], buf, sizeof buf, got, 2, &n, &truncated), 4);
  assert_true (truncated);
  assert_int_equal (n, 2);
  close (got[0]);
  close (got[1]);

  /* fd_receive keeps one fd */
  assert_int_equal (fd_send (sv[0], "a", 1, sent, 2), 1);
  int one = -1;
  assert_int_equal (fd_receive (sv[1], buf, sizeof buf, &one), 1);
  assert_true (one > STDERR_FILENO);
  assert_same_file (one, STDOUT_FILENO);
  close (one);

  assert_int_equal (fd_send (sv[0], "a", 1, sent, FD_PASS_MAX + 1), -EINVAL);
  close (sv[0]);
  close (sv[1]);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_round_trip),
    cmocka_unit_test (test_what_does_not_fit_is_said),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
