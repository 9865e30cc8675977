/* box logout */
#include <getopt.h>

#include "cli.h"

static int
run_logout (cli_context *ctx, int argc, char **argv)
{
  int c;
  while ((c = getopt_long (argc, argv, "", (const struct option[]){ { 0 } }, NULL)) != -1)
    return cli_usage_error ("logout", "unknown option");
  if (argc - optind > 1)
    return cli_usage_error ("logout", "requires at most 1 argument");
  const char *host = optind < argc ? argv[optind] : NULL;
  box_engine *eng = cli_engine (ctx);
  if (!eng)
    return CLI_EXIT_ENGINE_ERROR;
  box_error *err = NULL;
  if (box_registry_logout (eng, host, &err) < 0)
    return cli_report (err);
  printf ("Removing login credentials for %s\n", host ? host : "docker.io");
  return 0;
}

const cli_verb cli_verb_logout = {
  .name = "logout",
  .summary = "Log out from a registry",
  .usage = "Usage: box logout [SERVER]\n\n"
           "Remove the stored credentials for SERVER (docker's default registry when omitted).\n",
  .run = run_logout,
};
