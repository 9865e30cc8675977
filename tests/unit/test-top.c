/* top's reading of docker's ps_args: which columns each form shows, and what it refuses. */
#include "unit.h"

#include <stdlib.h>
#include <string.h>

#include "engine/top.h"

static void
expect_columns (const char *ps_args, const char *headers, size_t n)
{
  char *got = NULL;
  size_t got_n = 0;
  box_error *err = NULL;
  int rc = engine_top_columns (ps_args, &got, &got_n, &err);
  assert_ok (rc, err);
  assert_string_equal (got, headers);
  assert_int_equal (got_n, n);
  free (got);
}

static void
expect_refused (const char *ps_args, const char *message_part)
{
  char *got = NULL;
  size_t got_n = 0;
  box_error *err = NULL;
  assert_int_equal (engine_top_columns (ps_args, &got, &got_n, &err), BOX_E_INVALID);
  assert_non_null (strstr (box_error_message (err), message_part));
  assert_null (got);
  box_error_free (err);
}

static void
test_default_is_ps_ef (void **state)
{
  expect_columns (NULL, "UID PID PPID C STIME TTY TIME CMD", 8);
  expect_columns ("", "UID PID PPID C STIME TTY TIME CMD", 8);
  expect_columns ("-ef", "UID PID PPID C STIME TTY TIME CMD", 8);
  expect_columns ("-e -f", "UID PID PPID C STIME TTY TIME CMD", 8);
  expect_columns ("-e", "PID TTY TIME CMD", 4);
}

static void
test_bsd_user_format (void **state)
{
  expect_columns ("aux", "USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND", 11);
  expect_columns ("u", "USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND", 11);
}

static void
test_format_lists (void **state)
{
  expect_columns ("-o pid,comm,args", "PID COMMAND COMMAND", 3);
  expect_columns ("-opid,stat", "PID STAT", 2);
  expect_columns ("-eo pid=ID,user", "ID USER", 2);
  expect_columns ("o pid --format etime", "PID ELAPSED", 2);
  /* -o wins over the full format, as in ps */
  expect_columns ("-f -o pid", "PID", 1);
}

static void
test_refused (void **state)
{
  expect_refused ("-o nosuch", "nosuch");
  expect_refused ("-o", "needs a format list");
  expect_refused ("-o ,", "empty ps format list");
  expect_refused ("-Z", "-Z");
  expect_refused ("-p 1", "-p");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_default_is_ps_ef),
    cmocka_unit_test (test_bsd_user_format),
    cmocka_unit_test (test_format_lists),
    cmocka_unit_test (test_refused),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
