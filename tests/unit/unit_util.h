/* What the unit tests that touch files share: one temporary directory per
 * test program, made and removed by CMocka group fixtures, and writing a
 * whole file or failing the test. */
#ifndef CLRT_UNIT_UTIL_H
#define CLRT_UNIT_UTIL_H

#include <stddef.h>

/* Make $TMPDIR/clrt-unit-<tag>-XXXXXX ($TMPDIR when absolute, else /tmp):
 * 0, or -1 when it cannot be made (as a group setup returns). */
int clrt_unit_tmp_make(const char *tag);

/* Group teardown: remove that directory and everything in it (symlinks not
 * followed); 0, or -1 when anything could not be removed. */
int clrt_unit_tmp_teardown(void **state);

/* The directory clrt_unit_tmp_make made. */
const char *clrt_unit_tmp_root(void);

/* "<that directory>/<name>"; a few stay valid at once (a ring of four). */
const char *clrt_unit_tmp_path(const char *name);

/* The whole of `path` (caller frees; NUL-terminated one past *len); fails
 * the test on any error. */
unsigned char *clrt_unit_read_file(const char *path, size_t *len);

/* Create or replace `path` with `len` bytes of `data`; fails the test on
 * any error. */
void clrt_unit_write_file(const char *path, const void *data, size_t len);

#endif
