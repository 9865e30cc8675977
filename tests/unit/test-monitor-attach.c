/* The monitor's attached clients (src/monitor/attach.c) over real sockets and pipes: a client
 * that falls more than ATTACH_QUEUE_MAX behind is told it is dropped before its connection
 * closes, even with its input unread (or gives its slot up when it takes nothing at all);
 * the end of a client's input ends the box's stdin only for a StdinOnce box without a tty,
 * and that client's output for a box without StdinOnce nor tty (it still gets the exit code). */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "attach.h"
#include "engine/attach-protocol.h"

/* Lets the monitor side move what it can (as its poll loop would), without waiting. */
static void
pump (attach_set *s)
{
  struct pollfd fds[ATTACH_MAX_CLIENTS + 1];
  size_t n = attach_poll_fds (s, fds);
  assert_true (poll (fds, n, 0) >= 0);
  attach_handle (s, fds, n);
}

/* One message from the client's end: its length, 0 at the end of the connection, -1 when
 * nothing waits. */
static ssize_t
receive (int fd, char *buf, size_t size)
{
  ssize_t n;
  do
    n = recv (fd, buf, size, MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    return -1;
  assert_true (n >= 0);
  return n;
}

/* A client that wants stdout, attached through a socketpair; returns the client's end. */
static int
add_client (attach_set *s, bool wants_stdin)
{
  int pair[2];
  assert_int_equal (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
  attach_request request = { .stdin = wants_stdin, .stdout = true, .stderr = true };
  assert_true (attach_add (s, pair[0], &request));
  return pair[1];
}

/* Output until the (not reading) client is dropped; returns the bytes handed out. */
static size_t
output_until_dropped (attach_set *s)
{
  static char chunk[ATTACH_CHUNK_MAX];
  memset (chunk, 'x', sizeof chunk);
  size_t given = 0;
  while (s->n_dropping == 0 && s->n == 1)
    {
      attach_output (s, ATTACH_FRAME_STDOUT, chunk, sizeof chunk);
      given += sizeof chunk;
      assert_true (given < 64 * ATTACH_QUEUE_MAX); /* it must be dropped long before */
    }
  return given;
}

static void
test_a_lagging_client_is_told_why_it_is_dropped (void **state)
{
  attach_set s;
  attach_init (&s, false, false);
  int peer = add_client (&s, false);
  size_t given = output_until_dropped (&s);
  assert_true (given > ATTACH_QUEUE_MAX);
  assert_int_equal (s.n_dropping, 1);
  /* no more output goes to it */
  attach_output (&s, ATTACH_FRAME_STDOUT, "late", 4);
  /* input it sends meanwhile is not read: it must not reset the connection (which would
   * fail the client's next read before it has the message) */
  char input[] = { ATTACH_FRAME_STDIN, 'x' };
  assert_int_equal (send (peer, input, sizeof input, MSG_DONTWAIT), (ssize_t) sizeof input);

  char *buf = malloc (ATTACH_CHUNK_MAX + 1);
  assert_non_null (buf);
  size_t data = 0, messages = 0;
  bool answered = false, dropped = false;
  for (int rounds = 0; rounds < 100000; rounds++)
    {
      ssize_t n = receive (peer, buf, ATTACH_CHUNK_MAX + 1);
      if (n < 0)
        {
          pump (&s);
          continue;
        }
      if (n == 0)
        break;
      assert_false (dropped); /* the message is the last thing before the end */
      messages++;
      if (buf[0] == ATTACH_FRAME_STDOUT)
        {
          assert_int_equal (buf[n - 1], 'x');
          data += (size_t) n - 1;
          continue;
        }
      assert_int_equal (buf[0], ATTACH_FRAME_CONTROL);
      buf[n] = '\0';
      if (!answered)
        {
          assert_string_equal (buf + 1, "OK 0");
          answered = true;
          continue;
        }
      assert_string_equal (buf + 1, "DROPPED " ATTACH_DROPPED_BEHIND);
      dropped = true;
    }
  assert_true (dropped);
  /* what it got is what its socket held when it was dropped: less than it was given */
  assert_true (data > 0 && data < given);
  assert_true (messages > 2);
  assert_int_equal (s.n, 0);
  assert_int_equal (s.n_dropping, 0);
  free (buf);
  close (peer);
  attach_clear (&s);
}

static void
test_a_dropped_client_that_never_reads_gives_its_slot_up (void **state)
{
  attach_set s;
  attach_init (&s, false, false);
  int peer = add_client (&s, false);
  output_until_dropped (&s);
  pump (&s);
  assert_int_equal (s.n, 1); /* it has not taken the message: it is waited for */
  /* the set fills up: the next client takes the dropped one's slot */
  int others[ATTACH_MAX_CLIENTS];
  for (size_t i = 0; i < ATTACH_MAX_CLIENTS - 1; i++)
    others[i] = add_client (&s, false);
  assert_int_equal (s.n, ATTACH_MAX_CLIENTS);
  others[ATTACH_MAX_CLIENTS - 1] = add_client (&s, false);
  assert_int_equal (s.n, ATTACH_MAX_CLIENTS);
  assert_int_equal (s.n_dropping, 0);
  /* its connection ends after what the socket held, without the message */
  char *buf = malloc (ATTACH_CHUNK_MAX + 1);
  assert_non_null (buf);
  ssize_t n;
  while ((n = receive (peer, buf, ATTACH_CHUNK_MAX + 1)) > 0)
    assert_true (buf[0] != ATTACH_FRAME_CONTROL || strncmp (buf + 1, "DROPPED", 7) != 0);
  assert_int_equal (n, 0);
  /* a full set without a dropped client refuses */
  int pair[2];
  assert_int_equal (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
  attach_request request = { .stdout = true };
  assert_false (attach_add (&s, pair[0], &request));
  assert_int_equal (receive (pair[1], buf, ATTACH_CHUNK_MAX + 1), 0);
  close (pair[1]);
  free (buf);
  close (peer);
  attach_clear (&s);
  for (size_t i = 0; i < ATTACH_MAX_CLIENTS; i++)
    close (others[i]);
}

static void
test_a_lossless_client_is_never_dropped (void **state)
{
  attach_set s;
  attach_init (&s, false, false);
  int pair[2];
  assert_int_equal (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
  attach_request request = { .stdout = true, .lossless = true };
  assert_true (attach_add (&s, pair[0], &request));
  static char chunk[ATTACH_CHUNK_MAX];
  memset (chunk, 'y', sizeof chunk);
  while (!attach_output_paused (&s))
    attach_output (&s, ATTACH_FRAME_STDOUT, chunk, sizeof chunk);
  assert_int_equal (s.n, 1);
  assert_int_equal (s.n_dropping, 0);
  close (pair[1]);
  attach_clear (&s);
}

/* Whether the read end of a pipe sees the end of input (the write end closed). */
static bool
input_ended (int read_fd)
{
  struct pollfd p = { .fd = read_fd, .events = POLLIN };
  assert_true (poll (&p, 1, 0) >= 0);
  if (!(p.revents & (POLLIN | POLLHUP)))
    return false;
  char buf[256];
  ssize_t n;
  while ((n = read (read_fd, buf, sizeof buf)) > 0)
    ;
  return n == 0;
}

/* A client sends "hi" then the end of its input to a box's stdin (a pipe); returns whether
 * the box's stdin ended. */
static bool
client_input_ends_stdin (bool tty, bool stdin_once)
{
  attach_set s;
  attach_init (&s, tty, stdin_once);
  int in[2];
  assert_int_equal (pipe2 (in, O_CLOEXEC | O_NONBLOCK), 0);
  attach_set_input (&s, in[1], true);
  int peer = add_client (&s, true);
  char hi[] = { ATTACH_FRAME_STDIN, 'h', 'i' };
  char end = ATTACH_FRAME_STDIN_CLOSE;
  assert_int_equal (send (peer, hi, sizeof hi, 0), (ssize_t) sizeof hi);
  assert_int_equal (send (peer, &end, 1, 0), 1);
  for (int i = 0; i < 10; i++)
    pump (&s);
  char got[8] = { 0 };
  assert_int_equal (read (in[0], got, sizeof got), 2);
  assert_string_equal (got, "hi");
  bool ended = input_ended (in[0]);
  close (peer);
  attach_clear (&s);
  close (in[0]);
  return ended;
}

static void
test_the_end_of_a_client_input_follows_stdin_once (void **state)
{
  /* docker's StdinOnce (create -i, run -i): the box's stdin ends with the client's */
  assert_true (client_input_ends_stdin (false, true));
  /* run -di: StdinOnce is false, the next client may still write */
  assert_false (client_input_ends_stdin (false, false));
  /* a terminal has no end of input to pass on */
  assert_false (client_input_ends_stdin (true, true));
}

/* A client sends the end of its input, then the box writes output and exits: returns
 * whether the client got that output; it gets the exit code either way, and a second client,
 * attached without input, gets the output. */
static bool
client_output_goes_on_after_its_input_ends (bool tty, bool stdin_once)
{
  attach_set s;
  attach_init (&s, tty, stdin_once);
  int in[2];
  assert_int_equal (pipe2 (in, O_CLOEXEC | O_NONBLOCK), 0);
  attach_set_input (&s, in[1], true);
  int peer = add_client (&s, true);
  char end = ATTACH_FRAME_STDIN_CLOSE;
  assert_int_equal (send (peer, &end, 1, 0), 1);
  for (int i = 0; i < 10; i++)
    pump (&s);
  int watcher = add_client (&s, false);
  attach_output (&s, ATTACH_FRAME_STDOUT, "after", 5);
  attach_output (&s, ATTACH_FRAME_STDERR, "err", 3);
  attach_finish (&s, 3, 1000);

  char buf[64];
  ssize_t n;
  /* the answer, then output (if any), then the exit code, then the end */
  assert_int_equal (receive (peer, buf, sizeof buf), 5);
  assert_memory_equal (buf, tty ? "\0OK 1" : "\0OK 0", 5);
  bool got_output = false;
  while ((n = receive (peer, buf, sizeof buf)) > 0 && buf[0] != ATTACH_FRAME_CONTROL)
    got_output = true;
  assert_int_equal (n, 7);
  assert_memory_equal (buf, "\0EXIT 3", 7);
  assert_int_equal (receive (peer, buf, sizeof buf), 0);

  assert_int_equal (receive (watcher, buf, sizeof buf), 5);
  assert_int_equal (receive (watcher, buf, sizeof buf), 6);
  assert_memory_equal (buf, "\1after", 6);
  assert_int_equal (receive (watcher, buf, sizeof buf), 4);
  assert_memory_equal (buf, "\2err", 4);
  assert_int_equal (receive (watcher, buf, sizeof buf), 7);
  assert_memory_equal (buf, "\0EXIT 3", 7);

  /* the box's stdin is closed by the end of the monitor, whatever happened before */
  close (peer);
  close (watcher);
  close (in[0]);
  return got_output;
}

static void
test_the_end_of_a_client_input_ends_its_output_unless_stdin_once (void **state)
{
  /* StdinOnce without a tty: the box's stdin ends instead, the client sees the rest */
  assert_true (client_output_goes_on_after_its_input_ends (false, true));
  /* docker: StdinOnce false (run -di): the attachment's output ends there */
  assert_false (client_output_goes_on_after_its_input_ends (false, false));
  /* a terminal: the end of a piped input changes nothing (start -a -i sees the answer) */
  assert_true (client_output_goes_on_after_its_input_ends (true, true));
  assert_true (client_output_goes_on_after_its_input_ends (true, false));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_a_lagging_client_is_told_why_it_is_dropped),
    cmocka_unit_test (test_a_dropped_client_that_never_reads_gives_its_slot_up),
    cmocka_unit_test (test_a_lossless_client_is_never_dropped),
    cmocka_unit_test (test_the_end_of_a_client_input_follows_stdin_once),
    cmocka_unit_test (test_the_end_of_a_client_input_ends_its_output_unless_stdin_once),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
