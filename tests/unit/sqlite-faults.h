/* SQLite fault injection shared by the unit tests, SQLite-style: SQLite's allocator is
 * replaced by one that fails the n-th allocation, and a workload is run once per allocation
 * it makes, failing each in turn. */
#ifndef BOX_TEST_SQLITE_FAULTS_H
#define BOX_TEST_SQLITE_FAULTS_H

/* Installs the faulty allocator (once per process; later calls do nothing). It does not
 * fail until armed. */
void sqlite_faults_install (void);

/* From now on, the n-th SQLite allocation (0: the next one) fails, once. */
void sqlite_faults_arm (long n);
/* No allocation fails. */
void sqlite_faults_disarm (void);

typedef struct sqlite_faults_pass {
  const char *label; /* names each pass's directory <root>/<label>-<n> */
  /* fills a pass's fresh directory before it runs (NULL: it starts absent) */
  void (*prepare) (const char *dir, void *data);
  /* the workload: 0 when every step succeeded, else the first error */
  int (*run) (const char *dir);
  /* after each pass, with no failure armed: the state must still be usable */
  void (*check) (const char *dir);
  long max_passes; /* a workload that never completes without a failure is a test failure */
  void *data;
} sqlite_faults_pass;

/* Runs the pass with SQLite's n-th allocation failing, for n = 0, 1, ... until a pass needs
 * fewer allocations than n (every point has then been covered). Asserts that most failures
 * surfaced as errors and that the last pass succeeded. */
void sqlite_faults_fail_each_allocation (const char *root, const sqlite_faults_pass *pass);

/* A fresh directory for the passes (unit_make_temp_dir), on tmpfs when /dev/shm is writable:
 * the passes open and close stores thousands of times, there their fsyncs cost nothing, and
 * durability is not what these tests are about. */
char *sqlite_faults_make_temp_dir (void);

#endif
