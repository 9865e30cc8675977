/* Progress display shared by pull and push: on a terminal, one line per layer redrawn in
 * place with a bar; on a pipe, one plain line per state change (no byte counts). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "transfer-progress.h"

#define BAR_WIDTH 40

static void
human_size (int64_t bytes, char *buf, size_t size)
{
  if (bytes < 1000)
    snprintf (buf, size, "%lldB", (long long) bytes);
  else if (bytes < 1000 * 1000)
    snprintf (buf, size, "%.1fkB", bytes / 1e3);
  else if (bytes < 1000LL * 1000 * 1000)
    snprintf (buf, size, "%.1fMB", bytes / 1e6);
  else
    snprintf (buf, size, "%.2fGB", bytes / 1e9);
}

static const char *
status_text (box_transfer_status status, bool push)
{
  switch (status)
    {
    case BOX_TRANSFER_WAITING:
      return push ? "Preparing" : "Pulling fs layer";
    case BOX_TRANSFER_ALREADY_EXISTS:
      return push ? "Layer already exists" : "Already exists";
    case BOX_TRANSFER_DOWNLOADING:
      return "Downloading";
    case BOX_TRANSFER_EXTRACTING:
      return "Extracting";
    case BOX_TRANSFER_LAYER_COMPLETE:
      return "Pull complete";
    case BOX_TRANSFER_UPLOADING:
      return "Pushing";
    case BOX_TRANSFER_MOUNTED:
      return "Mounted from another repository";
    case BOX_TRANSFER_PUSHED:
      return "Pushed";
    default:
      return "";
    }
}

static transfer_row *
find_row (transfer_display *d, const char *id)
{
  for (size_t i = 0; i < d->n_rows; i++)
    if (strcmp (d->rows[i].id, id) == 0)
      return &d->rows[i];
  if (d->n_rows == TRANSFER_MAX_ROWS)
    return NULL;
  transfer_row *row = &d->rows[d->n_rows++];
  memset (row, 0, sizeof *row);
  snprintf (row->id, sizeof row->id, "%s", id);
  return row;
}

static void
render_row (FILE *out, const transfer_row *row, bool push)
{
  const char *hex = strchr (row->id, ':');
  hex = hex ? hex + 1 : row->id;
  fprintf (out, "\033[2K%.12s: %s", hex, status_text (row->status, push));
  if (row->status == BOX_TRANSFER_DOWNLOADING || row->status == BOX_TRANSFER_UPLOADING)
    {
      char cur[32], tot[32];
      human_size (row->current, cur, sizeof cur);
      if (row->total > 0)
        {
          int filled = (int) (BAR_WIDTH * row->current / row->total);
          char bar[BAR_WIDTH + 1];
          for (int i = 0; i < BAR_WIDTH; i++)
            bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
          bar[BAR_WIDTH] = '\0';
          human_size (row->total, tot, sizeof tot);
          fprintf (out, " [%s] %s/%s", bar, cur, tot);
        }
      else
        fprintf (out, " %s", cur);
    }
  fputc ('\n', out);
}

void
transfer_display_init (transfer_display *d, FILE *out, bool push)
{
  memset (d, 0, sizeof *d);
  d->out = out;
  d->push = push;
  d->tty = isatty (fileno (out));
}

void
transfer_display_event (const box_transfer_progress *event, void *userdata)
{
  transfer_display *d = userdata;
  if (event->status == BOX_TRANSFER_RESOLVED)
    {
      snprintf (d->digest, sizeof d->digest, "%s", event->id);
      return;
    }
  transfer_row *row = find_row (d, event->id);
  if (!row)
    return;
  box_transfer_status previous = row->status;
  bool was_new = !row->seen;
  row->seen = true;
  row->status = event->status;
  row->current = event->current;
  row->total = event->total;
  if (event->status == BOX_TRANSFER_ALREADY_EXISTS)
    d->n_existing++;
  if (!d->tty)
    {
      bool bytes_only
          = event->status == BOX_TRANSFER_DOWNLOADING || event->status == BOX_TRANSFER_UPLOADING;
      if (!bytes_only || was_new || previous != event->status)
        {
          const char *hex = strchr (row->id, ':');
          fprintf (d->out, "%.12s: %s\n", hex ? hex + 1 : row->id,
                   status_text (event->status, d->push));
          fflush (d->out);
        }
      return;
    }
  /* move up over the rows drawn so far and draw them all again */
  if (d->drawn)
    fprintf (d->out, "\033[%zuA", d->drawn);
  for (size_t i = 0; i < d->n_rows; i++)
    render_row (d->out, &d->rows[i], d->push);
  d->drawn = d->n_rows;
  fflush (d->out);
}
