/* Owns the unit tests' faulty SQLite allocator and the loop that fails each allocation of a
 * workload in turn. */
#include "sqlite-faults.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "unit.h"

static sqlite3_mem_methods real_methods;
static long allocations_until_failure = -1; /* -1: never fail */
static long failures_injected;

static void *
faulty_malloc (int size)
{
  if (allocations_until_failure >= 0 && allocations_until_failure-- == 0)
    {
      failures_injected++;
      return NULL;
    }
  return real_methods.xMalloc (size);
}

static void *
faulty_realloc (void *p, int size)
{
  if (allocations_until_failure >= 0 && allocations_until_failure-- == 0)
    {
      failures_injected++;
      return NULL;
    }
  return real_methods.xRealloc (p, size);
}

void
sqlite_faults_install (void)
{
  static bool installed;
  if (installed)
    return; /* a second GETMALLOC would return the faulty methods as the "real" ones */
  installed = true;
  sqlite3_shutdown ();
  assert_int_equal (sqlite3_config (SQLITE_CONFIG_GETMALLOC, &real_methods), SQLITE_OK);
  sqlite3_mem_methods faulty = real_methods;
  faulty.xMalloc = faulty_malloc;
  faulty.xRealloc = faulty_realloc;
  assert_int_equal (sqlite3_config (SQLITE_CONFIG_MALLOC, &faulty), SQLITE_OK);
  assert_int_equal (sqlite3_initialize (), SQLITE_OK);
}

void
sqlite_faults_arm (long n)
{
  allocations_until_failure = n;
}

void
sqlite_faults_disarm (void)
{
  allocations_until_failure = -1;
}

void
sqlite_faults_fail_each_allocation (const char *root, const sqlite_faults_pass *pass)
{
  long failures = 0, successes = 0;
  for (long n = 0;; n++)
    {
      char *dir = NULL;
      if (asprintf (&dir, "%s/%s-%ld", root, pass->label, n) < 0)
        fail ();
      if (pass->prepare)
        pass->prepare (dir, pass->data);
      sqlite_faults_arm (n);
      long injected_before = failures_injected;
      int rc = pass->run (dir);
      bool injected = failures_injected > injected_before;
      sqlite_faults_disarm ();
      if (rc < 0)
        failures++;
      else
        successes++;
      pass->check (dir);
      unit_remove_tree (dir);
      free (dir);
      if (!injected)
        break; /* the pass needed fewer than n allocations: every point has been covered */
      if (n > pass->max_passes)
        fail_msg ("%s never finished without an injected failure", pass->label);
    }
  /* SQLite absorbs some failures itself (lookaside, retries); most must surface */
  assert_true (failures > 10);
  assert_true (successes >= 1);
}

char *
sqlite_faults_make_temp_dir (void)
{
  if (access ("/dev/shm", W_OK) == 0)
    setenv ("TMPDIR", "/dev/shm", 1);
  return unit_make_temp_dir ();
}
