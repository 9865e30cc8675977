/* Attaching the CLI's stdio to a box: run (without -d), start -a, attach. */
#ifndef BOX_CLI_ATTACH_H
#define BOX_CLI_ATTACH_H

#include <stdbool.h>

#include "cli.h"

typedef struct cli_attach_options {
  bool tty;                /* the box has a pty: our terminal goes raw, signals travel as keys */
  bool interactive;        /* our stdin goes to the box */
  bool direct;             /* the box writes to our stdout/stderr itself (no log; run --rm) */
  bool sig_proxy;          /* the signals we get go to the box (docker: default without a tty) */
  const char *detach_keys; /* NULL: ctrl-p,ctrl-q */
  /* run -a without this stream: the box's output on it is not ours (it is logged) */
  bool without_stdout, without_stderr;
} cli_attach_options;

/* --detach-keys VALUE for verb: 0 with *out = value, or a usage error (printed) saying why. */
int cli_parse_detach_keys (const char *verb, const char *value, const char **out);

/* --sig-proxy[=VALUE] for verb: true for no value, "true" or "1", false for "false" or "0";
 * anything else is a usage error (printed). */
int cli_parse_sig_proxy (const char *verb, const char *value, bool *out);

/* docker's check before attaching our stdin to a box's terminal: a pipe or a file cannot be
 * one (docker run -it, docker attach). Returns 0 when tty and attach_stdin are not both set
 * or our stdin is a terminal; else prints "box: the input device is not a TTY" and returns
 * 1, docker's exit status for it. */
int cli_check_input_terminal (bool tty, bool attach_stdin);

/* Starts the box attached and waits for it. Returns 0 with *exit_code the box's status (or
 * 0 after a detach), or a CLI exit status (start failed; the error is printed). */
int cli_attach_start (box_engine *eng, const char *id, const cli_attach_options *a, int *exit_code);

/* Attaches to a running box. Returns 0 with *exit_code the box's status when it ended, and
 * *detached set when the detach keys were typed instead; or a CLI exit status. */
int cli_attach_running (box_engine *eng, const char *id, const cli_attach_options *a,
                        int *exit_code, bool *detached);

#endif
