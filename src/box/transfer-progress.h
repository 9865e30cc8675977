/* Progress display for pull and push (see transfer-progress.c). */
#ifndef BOX_CLI_TRANSFER_PROGRESS_H
#define BOX_CLI_TRANSFER_PROGRESS_H

#include <stdbool.h>
#include <stdio.h>

#include "box/box.h"

#define TRANSFER_MAX_ROWS 256

typedef struct transfer_row {
  char id[80];
  box_transfer_status status;
  int64_t current, total;
  bool seen;
} transfer_row;

typedef struct transfer_display {
  FILE *out;
  bool tty, push;
  transfer_row rows[TRANSFER_MAX_ROWS];
  size_t n_rows, drawn, n_existing;
  char digest[80]; /* the manifest digest, once resolved */
} transfer_display;

void transfer_display_init (transfer_display *d, FILE *out, bool push);

/* A box_transfer_progress_fn; userdata is the display. */
void transfer_display_event (const box_transfer_progress *event, void *userdata);

#endif
