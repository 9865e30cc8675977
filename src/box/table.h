/* Text tables in docker's layout: each column as wide as its widest cell, three spaces
 * between columns, the last column unpadded. */
#ifndef BOX_CLI_TABLE_H
#define BOX_CLI_TABLE_H

#include <stddef.h>

typedef struct cli_table {
  size_t n_columns;
  size_t n_rows; /* the header row included */
  size_t capacity;
  char **cells; /* n_rows * n_columns copies, row by row */
} cli_table;

/* A table whose first row is headers (n_columns of them). Returns 0, -1 when out of memory. */
int cli_table_init (cli_table *t, size_t n_columns, const char *const *headers);

/* Adds a row of n_columns cells (copied; NULL prints as empty). Returns 0, -1 when out of
 * memory (the row is then left out). */
int cli_table_add (cli_table *t, const char *const *cells);

/* Prints the table on stdout. */
void cli_table_print (const cli_table *t);

void cli_table_free (cli_table *t);

#endif
