/* box top: the processes of a running box, in ps's columns (docker's `top BOX [ps OPTIONS]`). */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "table.h"

/* Prints ps's table: titles, then rows of as many cells (missing cells print empty). */
static void
print_table (json_t *titles, json_t *rows)
{
  size_t n_columns = json_array_size (titles);
  const char **cells = calloc (n_columns ? n_columns : 1, sizeof *cells);
  cli_table table;
  if (!cells)
    return;
  for (size_t k = 0; k < n_columns; k++)
    cells[k] = json_string_value (json_array_get (titles, k));
  if (cli_table_init (&table, n_columns, cells) == 0)
    {
      size_t i;
      json_t *row;
      json_array_foreach (rows, i, row)
        {
          for (size_t k = 0; k < n_columns; k++)
            cells[k] = json_string_value (json_array_get (row, k));
          cli_table_add (&table, cells);
        }
      cli_table_print (&table);
      cli_table_free (&table);
    }
  free (cells);
}

static int
run_top (cli_context *ctx, int argc, char **argv)
{
  if (argc < 2)
    return cli_usage_error ("top", "requires at least 1 argument");
  /* everything after the box is ps's: joined with spaces, as docker sends ps_args */
  size_t len = 1;
  for (int i = 2; i < argc; i++)
    len += strlen (argv[i]) + 1;
  char *ps_args = calloc (1, len);
  if (!ps_args)
    return CLI_EXIT_ENGINE_ERROR;
  for (int i = 2; i < argc; i++)
    {
      if (i > 2)
        strcat (ps_args, " ");
      strcat (ps_args, argv[i]);
    }
  box_engine *eng = cli_engine (ctx);
  if (!eng)
    {
      free (ps_args);
      return CLI_EXIT_ENGINE_ERROR;
    }
  box_top_options opts = BOX_TOP_OPTIONS_INIT;
  opts.ps_args = ps_args;
  box_error *err = NULL;
  char *text = NULL;
  int rc = box_box_top (eng, argv[1], &opts, &text, &err);
  free (ps_args);
  if (rc < 0)
    return cli_report (err);
  json_t *doc = json_loads (text, 0, NULL);
  free (text);
  print_table (json_object_get (doc, "Titles"), json_object_get (doc, "Processes"));
  json_decref (doc);
  return 0;
}

const cli_verb cli_verb_top = {
  .name = "top",
  .summary = "Display the running processes of a box",
  .usage = "Usage: box top BOX [ps OPTIONS]\n\n"
           "Show the processes of a running box in ps's columns. Without ps options: ps -ef's\n"
           "(UID PID PPID C STIME TTY TIME CMD). Also: aux, -o LIST / -eo LIST (pid, ppid, user,\n"
           "uid, comm, args, stat, %cpu, %mem, rss, vsz, tty, time, etime, stime, ...).\n",
  .run = run_top,
};
