/* The monitor's attached clients (see lib/engine/attach-protocol.h for the protocol): the
 * box's output goes to each of them through a queue of its own, and their input goes to the
 * box's stdin (its pipe, or the pty with a tty) without the monitor ever blocking. */
#ifndef BOX_MONITOR_ATTACH_H
#define BOX_MONITOR_ATTACH_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

#define ATTACH_MAX_CLIENTS 64

typedef struct attach_message attach_message;

typedef struct attach_client {
  int fd;
  bool wants_stdin, wants_stdout, wants_stderr, lossless;
  attach_message *head, *tail; /* output not yet taken by the client */
  size_t queued;               /* bytes in the queue */
  /* dropped: its queue holds only the DROPPED message; closed once that is sent */
  bool dropping;
} attach_client;

typedef struct attach_set {
  attach_client clients[ATTACH_MAX_CLIENTS];
  size_t n;
  bool tty;
  int input_fd;     /* the box's stdin: its pipe's write end or the pty; -1: none */
  bool input_owned; /* input_fd is ours to close (the pipe; the pty belongs to the monitor) */
  /* without a tty: the box's stdin ends when a client's input ends (docker's StdinOnce);
   * otherwise that client's output ends there and the box's stdin stays open */
  bool stdin_once;
  char *pending; /* input the box has not taken yet (clients are not read meanwhile) */
  size_t pending_len, pending_off;
  bool pending_close; /* close input_fd once pending is written */
  size_t n_dropping;  /* clients that are dropping */
} attach_set;

/* What an "ATTACH <flags> <rows> <cols>" request asks for. */
typedef struct attach_request {
  bool stdin, stdout, stderr, lossless;
  unsigned short rows, cols;
} attach_request;

int attach_parse_request (const char *text, attach_request *out);

void attach_init (attach_set *s, bool tty, bool stdin_once);
/* Where client input goes from now on (fd < 0: nowhere); owned: close it when done. */
void attach_set_input (attach_set *s, int fd, bool owned);

/* Takes fd (a connected client) and answers "OK <tty>"; false when the set is full (fd is
 * closed then). A full set makes room by closing a dropped client that has not taken its
 * DROPPED message yet. */
bool attach_add (attach_set *s, int fd, const attach_request *request);

/* Hands output of the box (stream ATTACH_FRAME_STDOUT or _STDERR) to every client that wants
 * it; drops clients that are gone, and those too far behind after telling them why. */
void attach_output (attach_set *s, int stream, const char *data, size_t len);

/* True while a lossless client is too far behind: read no output from the box meanwhile. */
bool attach_output_paused (const attach_set *s);

/* The pollfds of the clients and of the box's input, at most ATTACH_MAX_CLIENTS + 1 */
size_t attach_poll_fds (const attach_set *s, struct pollfd *fds);
/* Handles what poll reported on the fds attach_poll_fds gave (same order, n of them);
 * returns true when some bytes moved. */
bool attach_handle (attach_set *s, const struct pollfd *fds, size_t n);

/* The end: sends "EXIT <code>" to every client after its queued output, waits while they
 * take it (giving up after idle_ms without progress), and closes them. */
void attach_finish (attach_set *s, int exit_code, int idle_ms);

void attach_clear (attach_set *s);

#endif
