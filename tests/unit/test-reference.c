/* Image references: docker's normalization and its rejections, as a table. */
#include "unit.h"

#include <stdio.h>
#include <string.h>

#include "image/reference.h"

typedef struct valid_case {
  const char *input;
  const char *normalized; /* image_reference_string after default tag */
  const char *familiar;   /* image_reference_familiar_string after default tag */
  const char *domain;
  const char *path;
  const char *tag; /* before the default tag */
  const char *digest;
} valid_case;

#define D256 "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const valid_case valid_cases[] = {
  { "busybox", "docker.io/library/busybox:latest", "busybox:latest", "docker.io", "library/busybox",
    "", "" },
  { "busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36", "docker.io",
    "library/busybox", "1.36", "" },
  { "library/busybox", "docker.io/library/busybox:latest", "busybox:latest", "docker.io",
    "library/busybox", "", "" },
  { "docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest", "docker.io",
    "library/busybox", "", "" },
  { "docker.io/library/busybox:latest", "docker.io/library/busybox:latest", "busybox:latest",
    "docker.io", "library/busybox", "latest", "" },
  { "index.docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest", "docker.io",
    "library/busybox", "", "" },
  { "user/app", "docker.io/user/app:latest", "user/app:latest", "docker.io", "user/app", "", "" },
  { "user/app/sub:v2", "docker.io/user/app/sub:v2", "user/app/sub:v2", "docker.io", "user/app/sub",
    "v2", "" },
  { "localhost/app", "localhost/app:latest", "localhost/app:latest", "localhost", "app", "", "" },
  { "localhost:5000/app:tag", "localhost:5000/app:tag", "localhost:5000/app:tag", "localhost:5000",
    "app", "tag", "" },
  { "127.0.0.1:5000/team/app", "127.0.0.1:5000/team/app:latest", "127.0.0.1:5000/team/app:latest",
    "127.0.0.1:5000", "team/app", "", "" },
  { "registry.example:443/a/b:c", "registry.example:443/a/b:c", "registry.example:443/a/b:c",
    "registry.example:443", "a/b", "c", "" },
  { "[::1]:5000/app", "[::1]:5000/app:latest", "[::1]:5000/app:latest", "[::1]:5000", "app", "",
    "" },
  { "Registry.Example/app", "Registry.Example/app:latest", "Registry.Example/app:latest",
    "Registry.Example", "app", "", "" },
  { "busybox@" D256, "docker.io/library/busybox@" D256, "busybox@" D256, "docker.io",
    "library/busybox", "", D256 },
  { "busybox:1.36@" D256, "docker.io/library/busybox:1.36@" D256, "busybox:1.36@" D256, "docker.io",
    "library/busybox", "1.36", D256 },
  { "localhost:5000/app@" D256, "localhost:5000/app@" D256, "localhost:5000/app@" D256,
    "localhost:5000", "app", "", D256 },
  { "a.b_c__d-e---f", "docker.io/library/a.b_c__d-e---f:latest", "a.b_c__d-e---f:latest",
    "docker.io", "library/a.b_c__d-e---f", "", "" },
  { "app:_tag.with-Chars", "docker.io/library/app:_tag.with-Chars", "app:_tag.with-Chars",
    "docker.io", "library/app", "_tag.with-Chars", "" },
  { "0", "docker.io/library/0:latest", "0:latest", "docker.io", "library/0", "", "" },
  /* a docker.io path whose first component looks like a host keeps its domain when shown */
  { "docker.io/ex.ample/app", "docker.io/ex.ample/app:latest", "docker.io/ex.ample/app:latest",
    "docker.io", "ex.ample/app", "", "" },
  { "docker.io/localhost/app", "docker.io/localhost/app:latest", "docker.io/localhost/app:latest",
    "docker.io", "localhost/app", "", "" },
  { "abcdef", "docker.io/library/abcdef:latest", "abcdef:latest", "docker.io", "library/abcdef", "",
    "" },
};

static void
test_valid_references (void **state)
{
  for (size_t i = 0; i < sizeof valid_cases / sizeof valid_cases[0]; i++)
    {
      const valid_case *c = &valid_cases[i];
      image_reference ref;
      box_error *err = NULL;
      int rc = image_reference_parse (c->input, &ref, &err);
      if (rc < 0)
        fail_msg ("%s: %s", c->input, box_error_message (err));
      assert_string_equal (ref.domain, c->domain);
      assert_string_equal (ref.path, c->path);
      assert_string_equal (ref.tag, c->tag);
      assert_string_equal (ref.digest, c->digest);
      image_reference_default_tag (&ref);
      char text[IMAGE_REFERENCE_STRING_MAX];
      image_reference_string (&ref, text);
      if (strcmp (text, c->normalized) != 0)
        fail_msg ("%s normalized to %s, expected %s", c->input, text, c->normalized);
      image_reference_familiar_string (&ref, text);
      if (strcmp (text, c->familiar) != 0)
        fail_msg ("%s familiar %s, expected %s", c->input, text, c->familiar);

      /* normalizing twice changes nothing */
      image_reference again;
      image_reference_string (&ref, text);
      assert_int_equal (image_reference_parse (text, &again, NULL), 0);
      char text2[IMAGE_REFERENCE_STRING_MAX];
      image_reference_string (&again, text2);
      assert_string_equal (text, text2);
    }
}

typedef struct invalid_case {
  const char *input;
  const char *message_part; /* the error must say this */
} invalid_case;

static const invalid_case invalid_cases[] = {
  { "", "empty" },
  { "Busybox", "must be lowercase" },
  { "user/App", "must be lowercase" },
  { HEX64, "image id" },
  { "busybox:", "tag" },
  { "busybox:-x", "tag" },
  { "busybox:a/b", "registry host" },
  { ":tag", "no repository name" },
  { "busybox@", "empty digest" },
  { "busybox@sha256:abc", "64" },
  { "busybox@sha256:" HEX64 "00", "64" },
  { "busybox@md5:" HEX64, "unsupported digest algorithm" },
  { "busybox@" HEX64, "no algorithm" },
  { "busybox@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", "64" },
  { "-busybox", "component" },
  { "busybox-", "component" },
  { "a..b", "component" },
  { "a___b", "component" },
  { "a.-b", "component" },
  { "user//app", "component" },
  { "user/", "component" },
  { "/busybox", "component" },
  { "local host/app", "component" },
  { "-host.example/app", "registry host" },
  { "host.example:/app", "registry host" },
  { "host.example:50x0/app", "registry host" },
  { "[zz]:5000/app", "registry host" },
  { "host.example/app:tag:more", "component" },
};

static void
test_invalid_references (void **state)
{
  for (size_t i = 0; i < sizeof invalid_cases / sizeof invalid_cases[0]; i++)
    {
      const invalid_case *c = &invalid_cases[i];
      image_reference ref;
      box_error *err = NULL;
      int rc = image_reference_parse (c->input, &ref, &err);
      if (rc == 0)
        fail_msg ("\"%s\" was accepted", c->input);
      assert_int_equal (rc, BOX_E_INVALID);
      if (!strstr (box_error_message (err), c->message_part))
        fail_msg ("\"%s\": error \"%s\" does not mention \"%s\"", c->input, box_error_message (err),
                  c->message_part);
      box_error_free (err);
    }
}

static void
test_length_limits (void **state)
{
  char name[300], text[400];
  /* docker.io/library/ + n chars: at most 255 in all */
  size_t room = IMAGE_REFERENCE_NAME_MAX - strlen ("docker.io/library/");
  memset (name, 'a', room);
  name[room] = '\0';
  image_reference ref;
  assert_int_equal (image_reference_parse (name, &ref, NULL), 0);
  name[room] = 'a';
  name[room + 1] = '\0';
  box_error *err = NULL;
  assert_int_equal (image_reference_parse (name, &ref, &err), BOX_E_INVALID);
  assert_non_null (strstr (box_error_message (err), "longer than"));
  box_error_free (err);

  char tag[IMAGE_REFERENCE_TAG_MAX + 2];
  memset (tag, 't', IMAGE_REFERENCE_TAG_MAX);
  tag[IMAGE_REFERENCE_TAG_MAX] = '\0';
  snprintf (text, sizeof text, "app:%s", tag);
  assert_int_equal (image_reference_parse (text, &ref, NULL), 0);
  assert_string_equal (ref.tag, tag);
  snprintf (text, sizeof text, "app:%st", tag);
  assert_int_equal (image_reference_parse (text, &ref, NULL), BOX_E_INVALID);
}

static void
test_familiarize (void **state)
{
  char out[IMAGE_REFERENCE_STRING_MAX];
  image_reference_familiarize ("docker.io/library/busybox:latest", out);
  assert_string_equal (out, "busybox:latest");
  image_reference_familiarize ("docker.io/library/a/b:1", out);
  assert_string_equal (out, "library/a/b:1");
  image_reference_familiarize ("localhost:5000/library/x:1", out);
  assert_string_equal (out, "localhost:5000/library/x:1");
  image_reference_familiarize ("not a reference", out);
  assert_string_equal (out, "not a reference");

  /* a repository named like an image id keeps "library/": alone it would read back as an id
   * (found by fuzz-reference) */
  image_reference ref, again;
  assert_int_equal (image_reference_parse ("library/" HEX64, &ref, NULL), 0);
  image_reference_familiar_string (&ref, out);
  assert_string_equal (out, "library/" HEX64);
  assert_int_equal (image_reference_parse (out, &again, NULL), 0);
  assert_string_equal (again.path, ref.path);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_valid_references),
    cmocka_unit_test (test_invalid_references),
    cmocka_unit_test (test_length_limits),
    cmocka_unit_test (test_familiarize),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
