/* box attach: attaches this terminal to a running box (docker's attach): its output, our
 * stdin unless --no-stdin (which must then be a terminal if the box has one), with a tty raw
 * mode and the detach keys; we exit with the box's exit code when it ends, or 1 after "read
 * escape sequence" when we detach. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "attach.h"

static int
run_attach (cli_context *ctx, int argc, char **argv)
{
  enum { OPT_NO_STDIN = 256, OPT_SIG_PROXY, OPT_DETACH_KEYS };
  static const struct option options[] = {
    { "no-stdin", no_argument, NULL, OPT_NO_STDIN },
    { "sig-proxy", optional_argument, NULL, OPT_SIG_PROXY },
    { "detach-keys", required_argument, NULL, OPT_DETACH_KEYS },
    { 0 },
  };
  bool no_stdin = false, sig_proxy = true;
  const char *detach_keys = NULL;
  int c, status;
  while ((c = getopt_long (argc, argv, "", options, NULL)) != -1)
    switch (c)
      {
      case OPT_NO_STDIN:
        no_stdin = true;
        break;
      case OPT_SIG_PROXY:
        if ((status = cli_parse_sig_proxy ("attach", optarg, &sig_proxy)) != 0)
          return status;
        break;
      case OPT_DETACH_KEYS:
        if ((status = cli_parse_detach_keys ("attach", optarg, &detach_keys)) != 0)
          return status;
        break;
      default:
        return cli_usage_error ("attach", "unknown option");
      }
  if (argc - optind != 1)
    return cli_usage_error ("attach", "requires exactly 1 argument");
  box_engine *eng = cli_engine (ctx);
  if (!eng)
    return CLI_EXIT_ENGINE_ERROR;
  box_box *box = NULL;
  box_error *err = NULL;
  if (box_box_get (eng, argv[optind], &box, &err) < 0)
    return cli_report (err);
  json_t *config = json_loads (box->config_json, 0, NULL);
  json_t *cfg = json_object_get (config, "Config");
  bool tty = json_is_true (json_object_get (cfg, "Tty"));
  cli_attach_options a = {
    .tty = tty,
    .interactive = !no_stdin && json_is_true (json_object_get (cfg, "OpenStdin")),
    .sig_proxy = sig_proxy && !tty,
    .detach_keys = detach_keys,
  };
  json_decref (config);
  /* docker checks without regard to OpenStdin, once it knows the box runs (a stopped box
   * gets the library's "start it first") */
  if (box->state == BOX_STATE_RUNNING && (status = cli_check_input_terminal (tty, !no_stdin)))
    {
      box_box_free (box);
      return status;
    }
  int exit_code = 0;
  bool detached = false;
  status = cli_attach_running (eng, box->id, &a, &exit_code, &detached);
  box_box_free (box);
  if (status)
    return status;
  if (detached)
    {
      fprintf (stderr, "read escape sequence\n");
      return 1;
    }
  return exit_code;
}

const cli_verb cli_verb_attach = {
  .name = "attach",
  .summary = "Attach local standard input, output, and error streams to a running box",
  .usage = "Usage: box attach [OPTIONS] BOX\n\n"
           "Attach to a running box: its output is shown, our input goes to it (boxes created\n"
           "with -i). With a tty, the detach keys leave it running. Exits with the box's exit\n"
           "code when it ends.\n\n"
           "Options:\n"
           "      --no-stdin            do not attach stdin\n"
           "      --sig-proxy=BOOL      pass received signals to the box (default true; not\n"
           "                            with a tty)\n"
           "      --detach-keys KEYS    keys that detach (default ctrl-p,ctrl-q)\n",
  .run = run_attach,
};
