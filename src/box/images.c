/* box images / box image ls: lists images with docker's columns. */
#include <getopt.h>
#include <jansson.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "table.h"

/* "docker.io/x" style names never reach here: the library returns familiar forms. Splits
 * "name:tag" at the last ':' after the last '/'. */
static void
split_repo_tag (const char *ref, char *repo, size_t repo_size, const char **tag)
{
  const char *colon = strrchr (ref, ':');
  const char *slash = strrchr (ref, '/');
  if (colon && (!slash || colon > slash))
    {
      snprintf (repo, repo_size, "%.*s", (int) (colon - ref), ref);
      *tag = colon + 1;
    }
  else
    {
      snprintf (repo, repo_size, "%s", ref);
      *tag = "<none>";
    }
}

/* The REPOSITORY, TAG and DIGEST of an image's row r (one row per tag, or one "<none>" row
 * for an untagged image); the digest is the repo digest of that repository. */
static void
image_row_names (const box_image *image, size_t r, char *repo, size_t repo_size, const char **tag,
                 const char **digest)
{
  *tag = "<none>";
  if (image->n_repo_tags)
    split_repo_tag (image->repo_tags[r], repo, repo_size, tag);
  else
    snprintf (repo, repo_size, "<none>");
  *digest = "<none>";
  for (size_t d = 0; d < image->n_repo_digests; d++)
    {
      const char *at = strchr (image->repo_digests[d], '@');
      if (at && strncmp (image->repo_digests[d], repo, strlen (repo)) == 0
          && image->repo_digests[d][strlen (repo)] == '@')
        *digest = at + 1;
    }
}

/* docker's --format json: one object per line and per tag, with its field names */
static void
print_json_lines (box_image **images, size_t n, int id_width, bool no_trunc)
{
  for (size_t i = 0; i < n; i++)
    {
      const box_image *image = images[i];
      char id[80], since[64], size[32], created_at[64];
      snprintf (id, sizeof id, "%.*s", id_width, no_trunc ? image->id : strchr (image->id, ':') + 1);
      cli_format_ago (image->created_ns, since, sizeof since);
      cli_format_size (image->size, size, sizeof size);
      cli_format_time (image->created_ns, created_at, sizeof created_at);
      size_t rows = image->n_repo_tags ? image->n_repo_tags : 1;
      for (size_t r = 0; r < rows; r++)
        {
          char repo[512];
          const char *tag, *digest;
          image_row_names (image, r, repo, sizeof repo, &tag, &digest);
          json_t *o = json_pack ("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "Containers",
                                 "N/A", "CreatedAt", created_at, "CreatedSince", since, "Digest",
                                 digest, "ID", id, "Repository", repo, "SharedSize", "N/A",
                                 "Size", size, "Tag", tag, "UniqueSize", "N/A", "VirtualSize",
                                 size);
          char *text = o ? json_dumps (o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
          if (text)
            printf ("%s\n", text);
          free (text);
          json_decref (o);
        }
    }
}

static int
run_images (cli_context *ctx, int argc, char **argv)
{
  static const struct option options[] = {
    { "all", no_argument, NULL, 'a' },      { "quiet", no_argument, NULL, 'q' },
    { "no-trunc", no_argument, NULL, 't' }, { "filter", required_argument, NULL, 'f' },
    { "digests", no_argument, NULL, 'd' },  { "format", required_argument, NULL, 'F' },
    { 0 },
  };
  bool quiet = false, no_trunc = false, digests = false, json = false;
  const char **filters = calloc ((size_t) argc + 2, sizeof *filters);
  if (!filters)
    return cli_usage_error ("images", "out of memory");
  size_t n_filters = 0;
  char *reference_filter = NULL;
  int c, status = CLI_EXIT_ENGINE_ERROR;
  while ((c = getopt_long (argc, argv, "aqf:", options, NULL)) != -1)
    {
      switch (c)
        {
        case 'a':
          break; /* every image is top-level: there are no intermediate images to show */
        case 'q':
          quiet = true;
          break;
        case 't':
          no_trunc = true;
          break;
        case 'd':
          digests = true;
          break;
        case 'f':
          filters[n_filters++] = optarg;
          break;
        case 'F':
          if (strcmp (optarg, "json") == 0 || strcmp (optarg, "{{json .}}") == 0)
            json = true;
          else if (strcmp (optarg, "table") != 0)
            {
              free (filters);
              return cli_usage_error ("images",
                                      "--format: only \"table\" and \"json\" are supported");
            }
          break;
        default:
          free (filters);
          return cli_usage_error ("images", "unknown option");
        }
    }
  if (argc - optind > 1)
    {
      free (filters);
      return cli_usage_error ("images", "accepts at most 1 argument: [REPOSITORY[:TAG]]");
    }
  /* like docker: a positional argument is a reference filter */
  if (optind < argc)
    {
      if (asprintf (&reference_filter, "reference=%s", argv[optind]) < 0)
        {
          free (filters);
          return cli_usage_error ("images", "out of memory");
        }
      filters[n_filters++] = reference_filter;
    }

  box_engine *eng = cli_engine (ctx);
  if (!eng)
    goto out;
  box_image_list_options opts = BOX_IMAGE_LIST_OPTIONS_INIT;
  opts.filters = filters;
  opts.n_filters = n_filters;
  box_image **images = NULL;
  size_t n = 0;
  box_error *err = NULL;
  if (box_image_list (eng, &opts, &images, &n, &err) < 0)
    {
      status = cli_report (err);
      goto out;
    }

  int id_width = no_trunc ? 71 : 12;
  if (json && !quiet)
    print_json_lines (images, n, id_width, no_trunc);
  else if (quiet)
    {
      for (size_t i = 0; i < n; i++)
        {
          const char *hex = strchr (images[i]->id, ':') + 1;
          printf ("%.*s\n", id_width, no_trunc ? images[i]->id : hex);
        }
    }
  else
    {
      cli_table table;
      /* the DIGEST column only with --digests */
      const char *headers_with_digest[]
          = { "REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE" };
      const char *headers[] = { "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE" };
      if (cli_table_init (&table, digests ? 6 : 5, digests ? headers_with_digest : headers) < 0)
        goto out_free;
      for (size_t i = 0; i < n; i++)
        {
          const box_image *image = images[i];
          char id[80], created[64], size[32];
          snprintf (id, sizeof id, "%.*s", id_width,
                    no_trunc ? image->id : strchr (image->id, ':') + 1);
          cli_format_ago (image->created_ns, created, sizeof created);
          cli_format_size (image->size, size, sizeof size);
          size_t per_image = image->n_repo_tags ? image->n_repo_tags : 1;
          for (size_t r = 0; r < per_image; r++)
            {
              char repo[512];
              const char *tag, *digest;
              image_row_names (image, r, repo, sizeof repo, &tag, &digest);
              const char *with_digest[] = { repo, tag, digest, id, created, size };
              const char *without_digest[] = { repo, tag, id, created, size };
              cli_table_add (&table, digests ? with_digest : without_digest);
            }
        }
      cli_table_print (&table);
      cli_table_free (&table);
    }
  status = 0;
out_free:
  box_image_list_free (images, n);
out:
  free (reference_filter);
  free (filters);
  return status;
}

const cli_verb cli_verb_images = {
  .name = "images",
  .summary = "List images",
  .usage = "Usage: box images [OPTIONS] [REPOSITORY[:TAG]]\n"
           "       box image ls [OPTIONS] [REPOSITORY[:TAG]]\n"
           "\n"
           "List images.\n"
           "\n"
           "Options:\n"
           "  -a, --all             show all images (accepted; box keeps no intermediates)\n"
           "      --digests         show digests\n"
           "  -f, --filter FILTER   reference=PATTERN, label=KEY[=VALUE], dangling=true|false\n"
           "      --format FORMAT   table (default) or json (one object per line)\n"
           "      --no-trunc        show full image ids\n"
           "  -q, --quiet           only image ids\n",
  .run = run_images,
};
