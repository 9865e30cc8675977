/* box pull */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "transfer-progress.h"

static int
run_pull (cli_context *ctx, int argc, char **argv)
{
  static const struct option options[] = {
    { "platform", required_argument, NULL, 'p' },
    { "quiet", no_argument, NULL, 'q' },
    { 0 },
  };
  const char *platform = NULL;
  bool quiet = false;
  int c;
  while ((c = getopt_long (argc, argv, "q", options, NULL)) != -1)
    switch (c)
      {
      case 'p':
        platform = optarg;
        break;
      case 'q':
        quiet = true;
        break;
      default:
        return cli_usage_error ("pull", "unknown option");
      }
  if (argc - optind != 1)
    return cli_usage_error ("pull", "requires exactly 1 argument");
  const char *ref = argv[optind];
  box_engine *eng = cli_engine (ctx);
  if (!eng)
    return CLI_EXIT_ENGINE_ERROR;

  transfer_display *display = calloc (1, sizeof *display);
  if (!display)
    return CLI_EXIT_ENGINE_ERROR;
  transfer_display_init (display, stdout, false);
  box_pull_options opts = BOX_PULL_OPTIONS_INIT;
  opts.platform = platform;
  if (!quiet)
    {
      opts.progress = transfer_display_event;
      opts.progress_userdata = display;
    }
  box_error *err = NULL;
  char *image_id = NULL;
  int status = 0;
  if (box_image_pull (eng, ref, &opts, &image_id, &err) < 0)
    status = cli_report (err);
  else if (quiet)
    printf ("%s\n", ref);
  else
    {
      bool up_to_date = display->n_rows > 0 && display->n_existing == display->n_rows;
      printf ("Digest: %s\n", display->digest);
      printf ("Status: %s for %s\n", up_to_date ? "Image is up to date" : "Downloaded newer image",
              ref);
      printf ("%s\n", ref);
    }
  free (image_id);
  free (display);
  return status;
}

const cli_verb cli_verb_pull = {
  .name = "pull",
  .summary = "Download an image from a registry",
  .usage = "Usage: box pull [OPTIONS] NAME[:TAG|@DIGEST]\n\n"
           "Download an image from a registry. Layers download in parallel and are verified\n"
           "and unpacked while they arrive; layers already present are skipped.\n\n"
           "Options:\n"
           "      --platform OS/ARCH[/VARIANT]   pick this platform from a multi-platform image\n"
           "                                     (default: linux/<this machine's arch>)\n"
           "  -q, --quiet                        print only the reference\n",
  .run = run_pull,
};
