/* The store's schema, as an ordered list of forward migrations: migration i (1-based) takes a
 * store from version i-1 to version i. Never edit a released migration; append a new one. */
#ifndef BOX_STORE_SCHEMA_H
#define BOX_STORE_SCHEMA_H

#include <stddef.h>

extern const char *const store_migrations[];
extern const size_t store_migration_count;

#endif
