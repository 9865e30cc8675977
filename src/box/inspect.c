/* box inspect: docker-style JSON for boxes. */
#include <jansson.h>
#include <stdlib.h>

#include "cli.h"

static int
run_inspect (cli_context *ctx, int argc, char **argv)
{
  if (argc < 2)
    return cli_usage_error ("inspect", "requires at least 1 argument");
  box_engine *eng = cli_engine (ctx);
  if (!eng)
    return CLI_EXIT_ENGINE_ERROR;
  json_t *out = json_array ();
  int status = 0;
  for (int i = 1; i < argc; i++)
    {
      box_error *err = NULL;
      char *text = NULL;
      if (box_box_inspect_json (eng, argv[i], &text, &err) < 0)
        {
          status = cli_report (err);
          continue;
        }
      json_array_append_new (out, json_loads (text, 0, NULL));
      free (text);
    }
  /* like docker: print what was found, even when some references failed */
  char *text = json_dumps (out, JSON_INDENT (4) | JSON_PRESERVE_ORDER);
  if (text)
    printf ("%s\n", text);
  free (text);
  json_decref (out);
  return status;
}

const cli_verb cli_verb_inspect = {
  .name = "inspect",
  .summary = "Show details of boxes as JSON",
  .usage = "Usage: box inspect BOX [BOX...]\n\n"
           "Show details of one or more boxes as a JSON array.\n",
  .run = run_inspect,
};
