/* box pull */
#include <stdio.h>
#include <stdlib.h>

#include "transfer-command.h"

static int
run_pull (cli_context *ctx, int argc, char **argv)
{
  transfer_command cmd;
  int status = transfer_command_parse (ctx, false, argc, argv, &cmd);
  if (status != 0)
    return status;
  box_pull_options opts = BOX_PULL_OPTIONS_INIT;
  opts.platform = cmd.platform;
  opts.progress = transfer_command_progress (&cmd);
  opts.progress_userdata = cmd.display;
  box_error *err = NULL;
  char *image_id = NULL;
  if (box_image_pull (cmd.eng, cmd.ref, &opts, &image_id, &err) < 0)
    status = cli_report (err);
  else if (cmd.quiet)
    printf ("%s\n", cmd.ref);
  else
    {
      const transfer_display *display = cmd.display;
      bool up_to_date = display->n_rows > 0 && display->n_existing == display->n_rows;
      printf ("Digest: %s\n", display->digest);
      printf ("Status: %s for %s\n", up_to_date ? "Image is up to date" : "Downloaded newer image",
              cmd.ref);
      printf ("%s\n", cmd.ref);
    }
  free (image_id);
  free (cmd.display);
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
