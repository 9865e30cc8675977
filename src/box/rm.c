/* box rm */
#include <getopt.h>

#include "cli.h"

static int
run_rm (cli_context *ctx, int argc, char **argv)
{
  int c;
  while ((c = getopt_long (argc, argv, "", (const struct option[]){ { 0 } }, NULL)) != -1)
    return cli_usage_error ("rm", "unknown option");
  if (optind >= argc)
    return cli_usage_error ("rm", "requires at least 1 argument");
  box_engine *eng = cli_engine (ctx);
  if (!eng)
    return CLI_EXIT_ENGINE_ERROR;
  int status = 0;
  for (int i = optind; i < argc; i++)
    {
      box_error *err = NULL;
      if (box_box_remove (eng, argv[i], &err) < 0)
        status = cli_report (err);
      else
        printf ("%s\n", argv[i]);
    }
  return status;
}

const cli_verb cli_verb_rm = {
  .name = "rm",
  .summary = "Remove one or more boxes",
  .usage = "Usage: box rm BOX [BOX...]\n\nRemove one or more boxes.\n",
  .run = run_rm,
};
