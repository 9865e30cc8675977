/* box create: creates a box from an image (not started) and prints its id. */
#include <stdio.h>

#include "runopts.h"

static int
run_create (cli_context *ctx, int argc, char **argv)
{
  cli_run r;
  int status = cli_run_parse ("create", argc, argv, false, &r);
  if (status)
    {
      cli_run_clear (&r);
      return status;
    }
  box_engine *eng = cli_engine (ctx);
  if (!eng)
    {
      cli_run_clear (&r);
      return CLI_EXIT_ENGINE_ERROR;
    }
  box_error *err = NULL;
  box_box *box = NULL;
  if (box_box_create (eng, &r.create, &box, &err) < 0)
    status = cli_report (err);
  else
    printf ("%s\n", box->id);
  box_box_free (box);
  cli_run_clear (&r);
  return status;
}

const cli_verb cli_verb_create = {
  .name = "create",
  .summary = "Create a new box",
  .usage_prefix = "Usage: box create [OPTIONS] IMAGE [COMMAND] [ARG...]\n\n"
                  "Create a new box from IMAGE (without starting it) and print its id.\n\n",
  .usage = cli_run_options_help,
  .run = run_create,
};
