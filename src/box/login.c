/* box login */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"

/* Reads one line from stream (without its newline); NULL at EOF with nothing read. */
static char *
read_line (FILE *stream)
{
  char *line = NULL;
  size_t cap = 0;
  ssize_t n = getline (&line, &cap, stream);
  if (n < 0)
    {
      free (line);
      return NULL;
    }
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
    line[--n] = '\0';
  return line;
}

static char *
prompt (const char *label, bool hide)
{
  fprintf (stderr, "%s", label);
  fflush (stderr);
  struct termios saved, quiet;
  bool restored = false;
  if (hide && tcgetattr (STDIN_FILENO, &saved) == 0)
    {
      quiet = saved;
      quiet.c_lflag &= ~(tcflag_t) ECHO;
      tcsetattr (STDIN_FILENO, TCSAFLUSH, &quiet);
      restored = true;
    }
  char *line = read_line (stdin);
  if (restored)
    {
      tcsetattr (STDIN_FILENO, TCSAFLUSH, &saved);
      fprintf (stderr, "\n");
    }
  return line;
}

static int
run_login (cli_context *ctx, int argc, char **argv)
{
  static const struct option options[] = {
    { "username", required_argument, NULL, 'u' },
    { "password", required_argument, NULL, 'p' },
    { "password-stdin", no_argument, NULL, 's' },
    { 0 },
  };
  const char *username = NULL, *password_arg = NULL;
  bool password_stdin = false;
  int c;
  while ((c = getopt_long (argc, argv, "u:p:", options, NULL)) != -1)
    switch (c)
      {
      case 'u':
        username = optarg;
        break;
      case 'p':
        password_arg = optarg;
        break;
      case 's':
        password_stdin = true;
        break;
      default:
        return cli_usage_error ("login", "unknown option");
      }
  if (argc - optind > 1)
    return cli_usage_error ("login", "requires at most 1 argument");
  const char *host = optind < argc ? argv[optind] : NULL;
  if (password_arg && password_stdin)
    return cli_usage_error ("login", "--password and --password-stdin are mutually exclusive");
  if (password_stdin && !username)
    return cli_usage_error ("login", "must provide --username with --password-stdin");
  if (password_arg)
    fprintf (stderr, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n");

  char *typed_user = NULL, *password = NULL;
  if (!username)
    {
      if (!isatty (STDIN_FILENO))
        return cli_usage_error ("login", "no username given and stdin is not a terminal (use -u)");
      typed_user = prompt ("Username: ", false);
      username = typed_user;
    }
  if (password_arg)
    password = strdup (password_arg);
  else if (password_stdin)
    password = read_line (stdin);
  else if (isatty (STDIN_FILENO))
    password = prompt ("Password: ", true);
  else
    {
      free (typed_user);
      return cli_usage_error ("login", "no password given and stdin is not a terminal "
                                       "(use --password-stdin)");
    }

  int status = 0;
  box_engine *eng = cli_engine (ctx);
  if (!eng)
    status = CLI_EXIT_ENGINE_ERROR;
  else
    {
      box_error *err = NULL;
      if (box_registry_login (eng, host, username, password ? password : "", &err) < 0)
        status = cli_report (err);
      else
        printf ("Login Succeeded\n");
    }
  if (password)
    {
      explicit_bzero (password, strlen (password));
      free (password);
    }
  free (typed_user);
  return status;
}

const cli_verb cli_verb_login = {
  .name = "login",
  .summary = "Log in to a registry",
  .usage = "Usage: box login [OPTIONS] [SERVER]\n\n"
           "Log in to a registry (docker's default registry when SERVER is omitted).\n"
           "The credentials are checked against the registry, then stored where docker keeps\n"
           "them: $DOCKER_CONFIG/config.json, else ~/.docker/config.json (mode 0600), or in\n"
           "the docker-credential-<name> helper that file names (credsStore/credHelpers).\n\n"
           "Options:\n"
           "  -u, --username USER    username\n"
           "  -p, --password PASS    password (insecure: visible to other users)\n"
           "      --password-stdin   read the password from stdin\n",
  .run = run_login,
};
