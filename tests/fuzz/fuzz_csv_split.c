/* The CSV field splitter (clrt__csv_split in src/io/csv.c) on one line,
 * from memory: the count is the commas plus one; with too little room the
 * line is left as it was; with room the fields, joined by commas again,
 * are the line. */
#include "fuzz_util.h"

#include "io/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* One line: up to the first NUL, as the loader hands it over. */
    char *line = malloc(size + 1), *copy = malloc(size + 1);
    FUZZ_CHECK(line && copy);
    memcpy(line, data, size);
    line[size] = '\0';
    size_t len = strlen(line), commas = 0;
    for (size_t i = 0; i < len; i++)
        commas += line[i] == ',';
    memcpy(copy, line, len + 1);

    /* Room for one field fewer than the line has. */
    char **few = malloc((commas > 0 ? commas : 1) * sizeof *few);
    FUZZ_CHECK(few != NULL);
    size_t count = clrt__csv_split(line, few, commas);
    FUZZ_CHECK(count == commas + 1);
    FUZZ_CHECK(memcmp(line, copy, len + 1) == 0); /* no room: untouched */

    char **fields = malloc((commas + 1) * sizeof *fields);
    FUZZ_CHECK(fields != NULL);
    FUZZ_CHECK(clrt__csv_split(line, fields, commas + 1) == count);
    FUZZ_CHECK(fields[0] == line);
    size_t at = 0;
    for (size_t j = 0; j < count; j++) {
        size_t n = strlen(fields[j]);
        FUZZ_CHECK(fields[j] == line + at);
        FUZZ_CHECK(memchr(fields[j], ',', n) == NULL);
        FUZZ_CHECK(memcmp(fields[j], copy + at, n) == 0);
        at += n;
        FUZZ_CHECK(copy[at] == (j + 1 < count ? ',' : '\0'));
        at++;
    }
    FUZZ_CHECK(at == len + 1);
    free(fields);
    free(copy);
    free(line);
    free(few);
    return 0;
}
