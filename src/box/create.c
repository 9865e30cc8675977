/* box create: creates a box from an image (not started) and prints its id. */
#include <stdio.h>

#include "runopts.h"

static int
run_create (cli_context *ctx, int argc, char **argv)
{
  cli_run r;
  box_engine *eng;
  box_box *box;
  int status = cli_run_create_box (ctx, "create", argc, argv, false, &r, &eng, &box);
  if (status)
    return status;
  printf ("%s\n", box->id);
  box_box_free (box);
  cli_run_clear (&r);
  return 0;
}

const cli_verb cli_verb_create = {
  .name = "create",
  .summary = "Create a new box",
  .usage_prefix = "Usage: box create [OPTIONS] IMAGE [COMMAND] [ARG...]\n\n"
                  "Create a new box from IMAGE (without starting it) and print its id.\n\n",
  .usage = cli_run_options_help,
  .run = run_create,
};
