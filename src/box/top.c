/* box top: the processes of a running box. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static int
run_top (cli_context *ctx, int argc, char **argv)
{
  if (argc != 2)
    return cli_usage_error ("top", "requires exactly 1 argument");
  box_engine *eng = cli_engine (ctx);
  if (!eng)
    return CLI_EXIT_ENGINE_ERROR;
  box_error *err = NULL;
  char *text = NULL;
  if (box_box_top_json (eng, argv[1], &text, &err) < 0)
    return cli_report (err);
  json_t *doc = json_loads (text, 0, NULL);
  free (text);
  json_t *titles = json_object_get (doc, "Titles");
  size_t i, j;
  json_t *v, *row;
  json_array_foreach (titles, i, v)
    printf (i + 1 < json_array_size (titles) ? "%-8s " : "%s\n", json_string_value (v));
  json_array_foreach (json_object_get (doc, "Processes"), i, row)
    json_array_foreach (row, j, v)
      printf (j + 1 < json_array_size (row) ? "%-8s " : "%s\n", json_string_value (v));
  json_decref (doc);
  return 0;
}

const cli_verb cli_verb_top = {
  .name = "top",
  .summary = "Show the processes of a running box",
  .usage = "Usage: box top BOX\n",
  .run = run_top,
};
