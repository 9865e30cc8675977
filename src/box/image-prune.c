/* box image prune: removes dangling (or, with -a, unused) images. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static bool
confirm (bool all)
{
  fprintf (stdout, "WARNING! This will remove all %s.\nAre you sure you want to continue? [y/N] ",
           all ? "images without at least one box associated to them" : "dangling images");
  fflush (stdout);
  char answer[16];
  if (!fgets (answer, sizeof answer, stdin))
    return false;
  return answer[0] == 'y' || answer[0] == 'Y';
}

static int
run_image_prune (cli_context *ctx, int argc, char **argv)
{
  static const struct option options[] = {
    { "all", no_argument, NULL, 'a' },
    { "force", no_argument, NULL, 'f' },
    { "filter", required_argument, NULL, 'F' },
    { 0 },
  };
  box_image_prune_options opts = BOX_IMAGE_PRUNE_OPTIONS_INIT;
  bool force = false;
  const char **filters = calloc ((size_t) argc + 1, sizeof *filters);
  if (!filters)
    return cli_usage_error ("image prune", "out of memory");
  size_t n_filters = 0;
  int c;
  while ((c = getopt_long (argc, argv, "af", options, NULL)) != -1)
    {
      switch (c)
        {
        case 'a':
          opts.all = 1;
          break;
        case 'f':
          force = true;
          break;
        case 'F':
          filters[n_filters++] = optarg;
          break;
        default:
          free (filters);
          return cli_usage_error ("image prune", "unknown option");
        }
    }
  if (optind < argc)
    {
      free (filters);
      return cli_usage_error ("image prune", "takes no arguments");
    }
  opts.filters = filters;
  opts.n_filters = n_filters;
  if (!force && !confirm (opts.all))
    {
      free (filters);
      return 0;
    }

  int status = CLI_EXIT_ENGINE_ERROR;
  box_engine *eng = cli_engine (ctx);
  if (eng)
    {
      box_error *err = NULL;
      box_image_delete_item *items = NULL;
      size_t n = 0;
      uint64_t reclaimed = 0;
      if (box_image_prune (eng, &opts, &items, &n, &reclaimed, &err) < 0)
        status = cli_report (err);
      else
        {
          if (n)
            {
              printf ("Deleted Images:\n");
              for (size_t i = 0; i < n; i++)
                {
                  if (items[i].untagged)
                    printf ("untagged: %s\n", items[i].untagged);
                  if (items[i].deleted)
                    printf ("deleted: %s\n", items[i].deleted);
                }
              printf ("\n");
            }
          char size[32];
          cli_format_size ((int64_t) reclaimed, size, sizeof size);
          printf ("Total reclaimed space: %s\n", size);
          status = 0;
        }
      box_image_delete_items_free (items, n);
    }
  free (filters);
  return status;
}

const cli_verb cli_verb_image_prune = {
  .name = "prune",
  .summary = "Remove unused images",
  .usage = "Usage: box image prune [OPTIONS]\n"
           "\n"
           "Remove dangling images (with -a: every image no box uses).\n"
           "\n"
           "Options:\n"
           "  -a, --all             remove all unused images, not just dangling ones\n"
           "      --filter FILTER   label=KEY[=VALUE] or label!=KEY[=VALUE]\n"
           "  -f, --force           do not prompt for confirmation\n",
  .run = run_image_prune,
};
