/* box version */
#include "cli.h"

static int
run_version (cli_context *ctx, int argc, char **argv)
{
  if (argc > 1)
    return cli_usage_error ("version", "takes no arguments");
  printf ("box version %s\n", BOX_VERSION);
  return 0;
}

const cli_verb cli_verb_version = {
  .name = "version",
  .summary = "Show the box version",
  .usage = "Usage: box version\n\nShow the box version.\n",
  .run = run_version,
};
