/* Starting a box attached to the CLI's stdio. */
#ifndef BOX_CLI_ATTACH_H
#define BOX_CLI_ATTACH_H

#include <stdbool.h>

#include "cli.h"

typedef struct cli_attach_options {
  bool tty;         /* the box has a pty: our terminal goes raw, signals travel as keys */
  bool interactive; /* our stdin goes to the box */
  bool direct;      /* the box writes to our stdout/stderr itself (no log) */
} cli_attach_options;

/* Starts the box and waits for it. Returns 0 with *exit_code the box's status, or a CLI exit
 * status (start failed; the error is printed). */
int cli_attach_start (box_engine *eng, const char *id, const cli_attach_options *a,
                      int *exit_code);

#endif
