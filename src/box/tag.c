/* box tag / box image tag: names an image. */
#include "cli.h"

static int
run_tag (cli_context *ctx, int argc, char **argv)
{
  if (argc != 3)
    return cli_usage_error ("tag", "requires exactly 2 arguments: SOURCE TARGET");
  box_engine *eng = cli_engine (ctx);
  if (!eng)
    return CLI_EXIT_ENGINE_ERROR;
  box_error *err = NULL;
  if (box_image_tag (eng, argv[1], argv[2], &err) < 0)
    return cli_report (err);
  return 0;
}

const cli_verb cli_verb_tag = {
  .name = "tag",
  .summary = "Create a tag TARGET that refers to SOURCE",
  .usage = "Usage: box tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]\n"
           "       box image tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]\n"
           "\n"
           "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.\n",
  .run = run_tag,
};
