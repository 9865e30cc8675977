/* What box pull and box push share before they transfer: their options, the one reference,
 * the engine and the progress display. */
#ifndef BOX_CLI_TRANSFER_COMMAND_H
#define BOX_CLI_TRANSFER_COMMAND_H

#include <stdbool.h>

#include "cli.h"
#include "transfer-progress.h"

typedef struct transfer_command {
  bool push;
  const char *ref;
  bool quiet;           /* -q: no progress, only the result */
  const char *platform; /* pull --platform, NULL when not given */
  long long chunk_size; /* push --chunk-size, 0 when not given */
  box_engine *eng;
  transfer_display *display; /* free() it */
} transfer_command;

/* Parses pull's (push false) or push's options and its one reference, opens the engine and
 * a progress display. 0, else the exit status to return (the error was reported). */
int transfer_command_parse (cli_context *ctx, bool push, int argc, char **argv,
                            transfer_command *out);

/* The progress callback for the options struct: NULL when quiet. */
box_transfer_progress_fn transfer_command_progress (const transfer_command *cmd);

#endif
