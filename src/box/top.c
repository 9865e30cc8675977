/* box top: the processes of a running box, in ps's columns (docker's `top BOX [ps OPTIONS]`). */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void
print_cell (const char *text, size_t width, bool last)
{
  if (last)
    printf ("%s\n", text);
  else
    printf ("%-*s   ", (int) width, text);
}

/* Prints the table with every column as wide as its widest cell, the last one unpadded. */
static void
print_table (json_t *titles, json_t *rows)
{
  size_t n_columns = json_array_size (titles);
  size_t *widths = calloc (n_columns ? n_columns : 1, sizeof *widths);
  if (!widths)
    return;
  size_t i, j;
  json_t *v, *row;
  json_array_foreach (titles, i, v) widths[i] = strlen (json_string_value (v));
  json_array_foreach (rows, i, row) json_array_foreach (
      row, j, v) if (j < n_columns && strlen (json_string_value (v)) > widths[j]) widths[j]
      = strlen (json_string_value (v));
  json_array_foreach (titles, i, v)
      print_cell (json_string_value (v), widths[i], i + 1 == n_columns);
  json_array_foreach (rows, i, row) json_array_foreach (row, j, v)
      print_cell (json_string_value (v), j < n_columns ? widths[j] : 0, j + 1 >= n_columns);
  free (widths);
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
