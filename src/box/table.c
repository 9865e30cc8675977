/* Text tables in docker's layout. */
#include "table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
cli_table_init (cli_table *t, size_t n_columns, const char *const *headers)
{
  *t = (cli_table){ .n_columns = n_columns };
  return cli_table_add (t, headers);
}

int
cli_table_add (cli_table *t, const char *const *cells)
{
  if (t->n_rows == t->capacity)
    {
      size_t capacity = t->capacity ? 2 * t->capacity : 16;
      char **bigger = realloc (t->cells, capacity * t->n_columns * sizeof *bigger);
      if (!bigger)
        return -1;
      t->cells = bigger;
      t->capacity = capacity;
    }
  char **row = t->cells + t->n_rows * t->n_columns;
  for (size_t k = 0; k < t->n_columns; k++)
    {
      row[k] = strdup (cells[k] ? cells[k] : "");
      if (!row[k])
        {
          while (k-- > 0)
            free (row[k]);
          return -1;
        }
    }
  t->n_rows++;
  return 0;
}

/* columns on a terminal: UTF-8 characters, not bytes ("…" is one column, three bytes) */
static size_t
display_width (const char *text)
{
  size_t width = 0;
  for (const unsigned char *p = (const unsigned char *) text; *p; p++)
    width += (*p & 0xc0) != 0x80;
  return width;
}

void
cli_table_print (const cli_table *t)
{
  if (t->n_columns == 0)
    return;
  size_t *widths = calloc (t->n_columns, sizeof *widths);
  if (!widths)
    return;
  for (size_t r = 0; r < t->n_rows; r++)
    for (size_t k = 0; k < t->n_columns; k++)
      {
        size_t len = display_width (t->cells[r * t->n_columns + k]);
        if (len > widths[k])
          widths[k] = len;
      }
  for (size_t r = 0; r < t->n_rows; r++)
    for (size_t k = 0; k < t->n_columns; k++)
      {
        const char *cell = t->cells[r * t->n_columns + k];
        if (k + 1 == t->n_columns)
          printf ("%s\n", cell);
        else
          printf ("%s%*s", cell, (int) (widths[k] - display_width (cell) + 3), "");
      }
  free (widths);
}

void
cli_table_free (cli_table *t)
{
  for (size_t i = 0; i < t->n_rows * t->n_columns; i++)
    free (t->cells[i]);
  free (t->cells);
  *t = (cli_table){ 0 };
}
