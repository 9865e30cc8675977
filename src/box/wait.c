/* box wait: blocks until boxes stop, printing their exit codes. */
#include <stdio.h>

#include "cli.h"

static int
run_wait (cli_context *ctx, int argc, char **argv)
{
  if (argc < 2)
    return cli_usage_error ("wait", "requires at least 1 argument");
  box_engine *eng = cli_engine (ctx);
  if (!eng)
    return CLI_EXIT_ENGINE_ERROR;
  int status = 0;
  for (int i = 1; i < argc; i++)
    {
      box_error *err = NULL;
      int code = 0;
      if (box_box_wait (eng, argv[i], &code, &err) < 0)
        status = cli_report (err);
      else
        {
          printf ("%d\n", code);
          fflush (stdout);
        }
    }
  return status;
}

const cli_verb cli_verb_wait = {
  .name = "wait",
  .summary = "Block until boxes stop, then print their exit codes",
  .usage = "Usage: box wait BOX [BOX...]\n",
  .run = run_wait,
};
