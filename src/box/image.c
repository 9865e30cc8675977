/* box image: the image verb group; dispatches to its subverbs. */
#include <string.h>

#include "cli.h"

static const struct {
  const char *name;
  const cli_verb *verb;
} subverbs[] = {
  { "import", &cli_verb_image_import }, { "inspect", &cli_verb_image_inspect },
  { "ls", &cli_verb_images },           { "list", &cli_verb_images },
  { "prune", &cli_verb_image_prune },   { "rm", &cli_verb_rmi },
  { "remove", &cli_verb_rmi },          { "tag", &cli_verb_tag },
  { "load", &cli_verb_load },           { "save", &cli_verb_save },
};

static void
print_group_usage (FILE *out)
{
  fprintf (out, "Usage: box image COMMAND\n\nManage images.\n\nCommands:\n");
  for (size_t i = 0; i < sizeof subverbs / sizeof subverbs[0]; i++)
    {
      if (strcmp (subverbs[i].name, "list") == 0 || strcmp (subverbs[i].name, "remove") == 0)
        continue; /* aliases */
      fprintf (out, "  %-10s %s\n", subverbs[i].name, subverbs[i].verb->summary);
    }
  fprintf (out, "\nRun 'box image COMMAND --help' for more information on a command.\n");
}

static int
run_image (cli_context *ctx, int argc, char **argv)
{
  if (argc < 2 || strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)
    {
      print_group_usage (argc < 2 ? stderr : stdout);
      return argc < 2 ? CLI_EXIT_ENGINE_ERROR : 0;
    }
  for (size_t i = 0; i < sizeof subverbs / sizeof subverbs[0]; i++)
    if (strcmp (subverbs[i].name, argv[1]) == 0)
      {
        if (cli_wants_help (subverbs[i].verb, argc - 1, argv + 1))
          {
            fputs (subverbs[i].verb->usage, stdout);
            return 0;
          }
        return subverbs[i].verb->run (ctx, argc - 1, argv + 1);
      }
  fprintf (stderr, "box: 'image %s' is not a box command.\nSee 'box image --help'.\n", argv[1]);
  return CLI_EXIT_ENGINE_ERROR;
}

const cli_verb cli_verb_image = {
  .name = "image",
  .summary = "Manage images",
  .usage = "Usage: box image COMMAND\n",
  .run = run_image,
  .dispatches = true,
};
