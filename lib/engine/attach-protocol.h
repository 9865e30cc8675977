/* The attach protocol between a client (libbox's attach) and a box's monitor.
 *
 * A client connects to boxes/<id>/monitor.sock (SOCK_SEQPACKET: every message keeps its
 * boundaries) and sends "ATTACH <flags> <rows> <cols>": flags are letters of "ioel" ('i'
 * stdin, 'o' stdout, 'e' stderr, 'l' lossless; "-" for none), rows and cols the terminal
 * size to set (0 0: leave it). From then on every message starts with a frame byte:
 *   monitor -> client: ATTACH_FRAME_CONTROL "OK <tty 0|1>" (the answer), then
 *                      ATTACH_FRAME_STDOUT / ATTACH_FRAME_STDERR data (with a tty, all the
 *                      terminal's output is stdout), and at the end
 *                      ATTACH_FRAME_CONTROL "EXIT <code>" once the exit is recorded.
 *   client -> monitor: ATTACH_FRAME_STDIN data, ATTACH_FRAME_STDIN_CLOSE (end of input,
 *                      ignored with a tty: for a StdinOnce box the end of the box's stdin;
 *                      else, as docker's daemon does, the end of this client's output and
 *                      input, the box's stdin staying open; it still gets "EXIT <code>").
 * Detaching is closing the connection. The monitor never blocks on a client: output waits in
 * a per-client queue; a client that falls ATTACH_QUEUE_MAX behind is dropped, unless it is
 * lossless (the one that started the box attached: then the monitor reads no more output
 * from the box until that client catches up, as a pipe would make the box wait). A dropped
 * client's queue is discarded and, in its place, it gets ATTACH_FRAME_CONTROL
 * "DROPPED <why>" after the output already in its socket; the monitor closes the connection
 * once the message is taken (without it when the client hangs up, when the box ends, or when
 * a new client needs the slot of one that still has not taken it).
 *
 * A box started attached gets its first client before it runs: the engine passes one end of
 * a socketpair as MONITOR_ATTACH_FD with the ATTACH request already written to it.
 *
 * "RESIZE <rows> <cols>" on a connection of its own sets the box's terminal size. */
#ifndef BOX_ENGINE_ATTACH_PROTOCOL_H
#define BOX_ENGINE_ATTACH_PROTOCOL_H

#define ATTACH_FRAME_CONTROL 0
#define ATTACH_FRAME_STDOUT 1
#define ATTACH_FRAME_STDERR 2
#define ATTACH_FRAME_STDIN 0
#define ATTACH_FRAME_STDIN_CLOSE 1

/* the largest piece of output in one message (the frame byte comes on top) */
#define ATTACH_CHUNK_MAX 65536
/* bytes of output a client may fall behind before it is dropped (or, lossless, the box's
 * output waits) */
#define ATTACH_QUEUE_MAX (1024 * 1024)
/* the reason a dropped client is told */
#define ATTACH_DROPPED_BEHIND "fell more than 1 MiB behind the box's output"

/* the monitor's fd for a client attached at start (see lifecycle.h for 3..5) */
#define MONITOR_ATTACH_FD 6

#endif
