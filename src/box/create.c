/* box create: records a new box. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"

static int
run_create (cli_context *ctx, int argc, char **argv)
{
  static const struct option options[] = {
    { "name", required_argument, NULL, 'n' },
    { "external-ref", required_argument, NULL, 'x' },
    { "label", required_argument, NULL, 'l' },
    { 0 },
  };
  box_box_create_options opts = BOX_BOX_CREATE_OPTIONS_INIT;
  box_label *labels = calloc ((size_t) argc, sizeof *labels);
  if (!labels)
    return cli_usage_error ("create", "out of memory");
  size_t n_labels = 0;
  int c, status = CLI_EXIT_ENGINE_ERROR;
  json_t *config = NULL;
  box_box *box = NULL;

  /* '+': options end at the image; what follows is the box's command */
  while ((c = getopt_long (argc, argv, "+l:", options, NULL)) != -1)
    {
      switch (c)
        {
        case 'n':
          opts.name = optarg;
          break;
        case 'x':
          opts.external_ref = optarg;
          break;
        case 'l':
          {
            char *eq = strchr (optarg, '=');
            labels[n_labels].key = optarg;
            labels[n_labels].value = eq ? eq + 1 : (char *) "";
            if (eq)
              *eq = '\0';
            n_labels++;
            break;
          }
        default:
          status = cli_usage_error ("create", "unknown option");
          goto out;
        }
    }
  if (optind >= argc)
    {
      status = cli_usage_error ("create", "requires at least 1 argument (the image)");
      goto out;
    }
  opts.image = argv[optind];
  opts.labels = labels;
  opts.n_labels = n_labels;

  config = json_object ();
  json_t *cmd = json_array ();
  for (int i = optind + 1; i < argc; i++)
    json_array_append_new (cmd, json_string (argv[i]));
  json_object_set_new (config, "Cmd", cmd);
  char *config_text = json_dumps (config, JSON_COMPACT);
  opts.config_json = config_text;

  box_engine *eng = cli_engine (ctx);
  if (eng)
    {
      box_error *err = NULL;
      if (box_box_create (eng, &opts, &box, &err) < 0)
        status = cli_report (err);
      else
        {
          printf ("%s\n", box->id);
          status = 0;
        }
    }
  free (config_text);
out:
  box_box_free (box);
  json_decref (config);
  free (labels);
  return status;
}

const cli_verb cli_verb_create = {
  .name = "create",
  .summary = "Create a new box",
  .usage = "Usage: box create [OPTIONS] IMAGE [COMMAND] [ARG...]\n\n"
           "Create a new box and print its id.\n\n"
           "Options:\n"
           "      --name NAME          assign a name ([a-zA-Z0-9][a-zA-Z0-9_.-]+)\n"
           "      --external-ref REF   attach an orchestrator's opaque reference (unique)\n"
           "  -l, --label KEY=VALUE    set a label (repeatable)\n",
  .run = run_create,
};
