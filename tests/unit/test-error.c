/* box_error: codes, context wrapping, errno mapping, HTTP and exit tables. */
#include "unit.h"

#include <errno.h>
#include <string.h>

#include "util/error.h"

static void
test_err_sets_code_and_message (void **state)
{
  box_error *err = NULL;
  int rc = box_err (&err, BOX_E_NOT_FOUND, "No such box: %s", "abc");
  assert_int_equal (rc, BOX_E_NOT_FOUND);
  assert_int_equal (box_error_code_of (err), BOX_E_NOT_FOUND);
  assert_string_equal (box_error_message (err), "No such box: abc");
  box_error_free (err);
}

static void
test_first_error_wins (void **state)
{
  box_error *err = NULL;
  box_err (&err, BOX_E_IO, "first");
  box_err (&err, BOX_E_INVALID, "second");
  assert_string_equal (box_error_message (err), "first");
  assert_int_equal (box_error_code_of (err), BOX_E_IO);
  box_error_free (err);
}

static void
test_wrap_adds_context_and_keeps_code (void **state)
{
  box_error *err = NULL;
  box_err_errno (&err, ENOENT, "open %s", "etc/passwd");
  int rc = box_err_wrap (&err, "layer %s", "sha256:ab12");
  assert_int_equal (rc, BOX_E_NOT_FOUND);
  assert_string_equal (box_error_message (err),
                       "layer sha256:ab12: open etc/passwd: No such file or directory");
  box_error_free (err);
}

static void
test_wrap_without_error_is_internal (void **state)
{
  box_error *err = NULL;
  assert_int_equal (box_err_wrap (&err, "ctx"), BOX_E_INTERNAL);
  assert_non_null (strstr (box_error_message (err), "without an error message"));
  box_error_free (err);
}

static void
test_null_error_pointer_is_allowed (void **state)
{
  assert_int_equal (box_err (NULL, BOX_E_BUSY, "x"), BOX_E_BUSY);
  assert_int_equal (box_err_errno (NULL, EACCES, "x"), BOX_E_PERMISSION);
  box_error_free (NULL);
}

static void
test_errno_mapping (void **state)
{
  assert_int_equal (box_err_code_from_errno (ENOENT), BOX_E_NOT_FOUND);
  assert_int_equal (box_err_code_from_errno (EEXIST), BOX_E_CONFLICT);
  assert_int_equal (box_err_code_from_errno (EPERM), BOX_E_PERMISSION);
  assert_int_equal (box_err_code_from_errno (EBUSY), BOX_E_BUSY);
  assert_int_equal (box_err_code_from_errno (EINVAL), BOX_E_INVALID);
  assert_int_equal (box_err_code_from_errno (ENOSYS), BOX_E_UNSUPPORTED);
  assert_int_equal (box_err_code_from_errno (EIO), BOX_E_IO);
}

static void
test_http_and_exit_tables (void **state)
{
  assert_int_equal (box_error_http_status (BOX_E_INVALID), 400);
  assert_int_equal (box_error_http_status (BOX_E_PERMISSION), 403);
  assert_int_equal (box_error_http_status (BOX_E_NOT_FOUND), 404);
  assert_int_equal (box_error_http_status (BOX_E_CONFLICT), 409);
  assert_int_equal (box_error_http_status (BOX_E_AMBIGUOUS), 409);
  assert_int_equal (box_error_http_status (BOX_E_BUSY), 409);
  assert_int_equal (box_error_http_status (BOX_E_IO), 500);
  assert_int_equal (box_error_http_status (BOX_E_INTERNAL), 500);
  assert_int_equal (box_error_http_status (BOX_E_UNSUPPORTED), 501);
  assert_int_equal (box_error_exit_code (BOX_OK), 0);
  assert_int_equal (box_error_exit_code (BOX_E_NOT_FOUND), 125);
  assert_int_equal (box_error_exit_code (BOX_E_INTERNAL), 125);
  assert_string_equal (box_error_code_name (BOX_E_AMBIGUOUS), "ambiguous");
}

static void
test_propagate_moves_ownership (void **state)
{
  box_error *local = NULL, *out = NULL;
  box_err (&local, BOX_E_CONFLICT, "taken");
  assert_int_equal (box_err_propagate (&out, &local), BOX_E_CONFLICT);
  assert_null (local);
  assert_string_equal (box_error_message (out), "taken");
  box_error_free (out);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_err_sets_code_and_message),
    cmocka_unit_test (test_first_error_wins),
    cmocka_unit_test (test_wrap_adds_context_and_keeps_code),
    cmocka_unit_test (test_wrap_without_error_is_internal),
    cmocka_unit_test (test_null_error_pointer_is_allowed),
    cmocka_unit_test (test_errno_mapping),
    cmocka_unit_test (test_http_and_exit_tables),
    cmocka_unit_test (test_propagate_moves_ownership),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
