/* Kernel source handling: `#include "..."` expansion on files made here, file
 * reading, and the table of embedded kernels built from cl/ by clrt-embed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/io.h"
#include "unit_util.h"

#ifndef CLRT_SOURCE_DIR
#error "CLRT_SOURCE_DIR (the project source root, as a string) must be defined by the build"
#endif

/* ------------------------------------------------------------ helpers */


static void path_in(char *out, size_t len, const char *dir, const char *name)
{
    int n = snprintf(out, len, "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < len);
}

static void write_file(const char *dir, const char *name, const char *text, size_t len)
{
    char path[4096];
    path_in(path, sizeof path, dir, name);
    clrt_unit_write_file(path, text, len);
}

static void write_text(const char *dir, const char *name, const char *text)
{
    write_file(dir, name, text, strlen(text));
}

static int make_tmp(void **state)
{
    (void)state;
    return clrt_unit_tmp_make("embed");
}

/* Expand `text` as file `name` with includes from `dir`; the result must
 * succeed and equal `want` exactly. */
static void expect_expansion(const char *name, const char *text, const char *dir,
                             const char *want)
{
    char *out = NULL, err[1024] = "";
    size_t out_len = 0;
    int rc = clrt__expand_includes(name, text, strlen(text), dir, &out, &out_len, err, sizeof err);
    if (rc != 0)
        fail_msg("expanding %s: %s", name, err);
    assert_non_null(out);
    if (strcmp(out, want) != 0)
        fail_msg("expanding %s gave\n---\n%s---\nwant\n---\n%s---", name, out, want);
    assert_int_equal(out_len, strlen(want));
    free(out);
}

/* Expand `text`; it must fail, with every string in `needles` in the message. */
static void expect_failure(const char *name, const char *text, const char *dir,
                           const char *needle1, const char *needle2)
{
    char *out = (char *)"sentinel", err[1024] = "";
    size_t out_len = 99;
    int rc = clrt__expand_includes(name, text, strlen(text), dir, &out, &out_len, err, sizeof err);
    if (rc != -1)
        fail_msg("expanding %s: want -1, got %d: %s", name, rc, out);
    assert_null(out);
    assert_int_equal(out_len, 0);
    if (needle1 && !strstr(err, needle1))
        fail_msg("expanding %s: \"%s\" not in \"%s\"", name, needle1, err);
    if (needle2 && !strstr(err, needle2))
        fail_msg("expanding %s: \"%s\" not in \"%s\"", name, needle2, err);
}

/* ---------------------------------------------------------- expansion */

static void nested_includes_with_line_markers(void **state)
{
    (void)state;
    char dir[4096];
    path_in(dir, sizeof dir, clrt_unit_tmp_root(), "nested");
    assert_int_equal(mkdir(dir, 0700), 0);
    write_text(dir, "a.h", "#define A 1\n#include \"b.h\"\nint a;\n");
    write_text(dir, "b.h", "#define B 2\n");
    const char *main_text = "// main\n"
                            "#include \"a.h\"\n"
                            "kernel void k(void) {}\n";
    /* Each include is replaced by "#line 1" of the included file, its
     * lines, and a "#line" back to the line after the include. */
    const char *want = "// main\n"
                       "#line 1 \"a.h\"\n"
                       "#define A 1\n"
                       "#line 1 \"b.h\"\n"
                       "#define B 2\n"
                       "#line 3 \"a.h\"\n"
                       "int a;\n"
                       "#line 3 \"main.cl\"\n"
                       "kernel void k(void) {}\n";
    expect_expansion("main.cl", main_text, dir, want);
}

static void include_spellings(void **state)
{
    (void)state;
    char dir[4096];
    path_in(dir, sizeof dir, clrt_unit_tmp_root(), "spell");
    assert_int_equal(mkdir(dir, 0700), 0);
    /* No newline at the end of the included file: the marker after it must
     * still start a line of its own. */
    write_file(dir, "c.h", "#define C 3", strlen("#define C 3"));
    const char *text = "x\n"
                       "  #  include \"c.h\"\n"
                       "\t#include\t\"c.h\"   // again\n"
                       "y\n";
    const char *want = "x\n"
                       "#line 1 \"c.h\"\n"
                       "#define C 3\n"
                       "#line 3 \"k.cl\"\n"
                       "#line 1 \"c.h\"\n"
                       "#define C 3\n"
                       "#line 4 \"k.cl\"\n"
                       "y\n";
    expect_expansion("k.cl", text, dir, want);
}

static void system_includes_and_other_lines_untouched(void **state)
{
    (void)state;
    const char *text = "#include <x.h>\n"
                       "#  include <sub/y.h>\n"
                       "#define S \"#include \\\"q.h\\\"\"\n"
                       "// #include \"commented.h\"\n"
                       "#included \"nope.h\"\n"
                       "int z;\n";
    /* The include dir does not exist: nothing may be read from it. */
    char dir[4096];
    path_in(dir, sizeof dir, clrt_unit_tmp_root(), "no-such-dir");
    expect_expansion("sys.cl", text, dir, text);
    /* Empty text gives empty text. */
    expect_expansion("empty.cl", "", dir, "");
}

static void missing_include(void **state)
{
    (void)state;
    char dir[4096];
    path_in(dir, sizeof dir, clrt_unit_tmp_root(), "missing");
    assert_int_equal(mkdir(dir, 0700), 0);
    expect_failure("m.cl", "int a;\n#include \"absent.h\"\n", dir, "absent.h", "m.cl:2");
    /* Missing two levels down: the message names the file that includes it. */
    write_text(dir, "has_missing.h", "\n\n#include \"deeper_absent.h\"\n");
    expect_failure("top.cl", "#include \"has_missing.h\"\n", dir, "deeper_absent.h",
                   "has_missing.h:3");
    /* The committed input used by the embedder's should_fail test. */
    char *raw;
    size_t raw_len;
    assert_int_equal(clrt__read_file(CLRT_SOURCE_DIR "/tests/data/missing_include.cl", &raw,
                                     &raw_len),
                     0);
    expect_failure("missing_include.cl", raw, CLRT_SOURCE_DIR "/tests/data",
                   "does_not_exist.h", "missing_include.cl:1");
    free(raw);
}

static void include_cycles_are_refused(void **state)
{
    (void)state;
    char dir[4096];
    path_in(dir, sizeof dir, clrt_unit_tmp_root(), "cycle");
    assert_int_equal(mkdir(dir, 0700), 0);
    write_text(dir, "self.h", "#include \"self.h\"\n");
    expect_failure("self.h", "#include \"self.h\"\n", dir, "self.h", NULL);
    write_text(dir, "ping.h", "#include \"pong.h\"\n");
    write_text(dir, "pong.h", "#include \"ping.h\"\n");
    expect_failure("main.cl", "#include \"ping.h\"\n", dir, NULL, NULL);
}

/* Eight levels of nesting (the documented depth) are fine. */
static void deep_but_finite_nesting(void **state)
{
    (void)state;
    char dir[4096];
    path_in(dir, sizeof dir, clrt_unit_tmp_root(), "deep");
    assert_int_equal(mkdir(dir, 0700), 0);
    char want[4096] = "";
    for (int i = 1; i <= 8; i++) {
        char name[16], text[64];
        snprintf(name, sizeof name, "d%d.h", i);
        if (i < 8)
            snprintf(text, sizeof text, "#include \"d%d.h\"\n", i + 1);
        else
            snprintf(text, sizeof text, "int deepest;\n");
        write_text(dir, name, text);
    }
    /* main.cl -> d1 -> ... -> d8 */
    for (int i = 1; i <= 8; i++) {
        char line[64];
        snprintf(line, sizeof line, "#line 1 \"d%d.h\"\n", i);
        strcat(want, line);
    }
    strcat(want, "int deepest;\n");
    for (int i = 7; i >= 1; i--) {
        char line[64];
        snprintf(line, sizeof line, "#line 2 \"d%d.h\"\n", i);
        strcat(want, line);
    }
    strcat(want, "#line 2 \"main.cl\"\n");
    expect_expansion("main.cl", "#include \"d1.h\"\n", dir, want);
}

static void includes_outside_the_folder_are_refused(void **state)
{
    (void)state;
    char dir[4096];
    path_in(dir, sizeof dir, clrt_unit_tmp_root(), "jail");
    assert_int_equal(mkdir(dir, 0700), 0);
    /* The files exist: the names alone must be refused. */
    write_text(clrt_unit_tmp_root(), "x.h", "int outside;\n");
    write_text(clrt_unit_tmp_root(), "abs.h", "int absolute;\n");
    expect_failure("j.cl", "#include \"../x.h\"\n", dir, "../x.h", NULL);
    char sub[4096];
    path_in(sub, sizeof sub, dir, "sub");
    assert_int_equal(mkdir(sub, 0700), 0);
    expect_failure("j.cl", "#include \"sub/../../x.h\"\n", dir, "x.h", NULL);

    char abs_path[4096], text[4200];
    path_in(abs_path, sizeof abs_path, clrt_unit_tmp_root(), "abs.h");
    snprintf(text, sizeof text, "#include \"%s\"\n", abs_path);
    expect_failure("j.cl", text, dir, abs_path, NULL);
    expect_failure("j.cl", "#include \"/abs.h\"\n", dir, "/abs.h", NULL);
}

static void err_buffer_is_optional(void **state)
{
    (void)state;
    char *out;
    size_t out_len;
    const char *text = "#include \"absent.h\"\n";
    assert_int_equal(clrt__expand_includes("n.cl", text, strlen(text), clrt_unit_tmp_root(), &out, &out_len,
                                           NULL, 0),
                     -1);
    assert_null(out);
    char small[24];
    memset(small, 'z', sizeof small);
    assert_int_equal(clrt__expand_includes("n.cl", text, strlen(text), clrt_unit_tmp_root(), &out, &out_len,
                                           small, 8),
                     -1);
    assert_true(strlen(small) < 8);
    assert_int_equal(small[8], 'z');
}

/* ---------------------------------------------------------- read_file */

static void read_file(void **state)
{
    (void)state;
    char *data = (char *)"sentinel";
    size_t len = 99;
    char path[4096];
    path_in(path, sizeof path, clrt_unit_tmp_root(), "does-not-exist.cl");
    assert_int_equal(clrt__read_file(path, &data, &len), -1);
    assert_null(data);
    assert_int_equal(len, 0);

    /* A directory is not a file. */
    assert_int_equal(clrt__read_file(clrt_unit_tmp_root(), &data, &len), -1);
    assert_null(data);

    /* Empty: success, a terminated empty string. */
    write_file(clrt_unit_tmp_root(), "empty.bin", "", 0);
    path_in(path, sizeof path, clrt_unit_tmp_root(), "empty.bin");
    assert_int_equal(clrt__read_file(path, &data, &len), 0);
    assert_non_null(data);
    assert_int_equal(len, 0);
    assert_int_equal(data[0], '\0');
    free(data);

    /* Bytes, NULs included, over more than one read chunk. */
    size_t n = 20000;
    char *bytes = malloc(n);
    assert_non_null(bytes);
    for (size_t i = 0; i < n; i++)
        bytes[i] = (char)(i * 7 % 251);
    write_file(clrt_unit_tmp_root(), "bytes.bin", bytes, n);
    path_in(path, sizeof path, clrt_unit_tmp_root(), "bytes.bin");
    assert_int_equal(clrt__read_file(path, &data, &len), 0);
    assert_int_equal(len, n);
    assert_memory_equal(data, bytes, n);
    assert_int_equal(data[n], '\0');
    free(data);
    free(bytes);
}

/* -------------------------------------------------- the embedded table */

static const clrt_source *embedded(const char *name)
{
    for (size_t i = 0; i < clrt_embedded_source_count; i++)
        if (strcmp(clrt_embedded_sources[i].name, name) == 0)
            return &clrt_embedded_sources[i];
    return NULL;
}

/* The embedded entry for cl/<name>.cl equals the expansion of the file on
 * disk, made as the library does for CLRT_KERNEL_DIR. */
static void check_against_disk(const char *name)
{
    const clrt_source *src = embedded(name);
    if (!src)
        fail_msg("cl/%s.cl has no embedded entry", name);
    char path[4096], file[300], err[1024] = "";
    snprintf(file, sizeof file, "%s.cl", name);
    snprintf(path, sizeof path, "%s/cl/%s", CLRT_SOURCE_DIR, file);
    char *raw, *text;
    size_t raw_len, len;
    assert_int_equal(clrt__read_file(path, &raw, &raw_len), 0);
    if (clrt__expand_includes(file, raw, raw_len, CLRT_SOURCE_DIR "/cl", &text, &len, err,
                              sizeof err) != 0) {
        free(raw);
        fail_msg("expanding %s: %s", path, err);
    }
    bool same = src->len == len && memcmp(src->data, text, len) == 0;
    free(raw);
    free(text);
    if (!same)
        fail_msg("embedded \"%s\" (%zu bytes) differs from %s expanded (%zu bytes): rebuild?",
                 name, src->len, path, len);
    assert_int_equal(src->data[src->len], '\0'); /* usable as a C string */
    assert_int_equal(strlen((const char *)src->data), src->len);
}

static void embedded_tensor(void **state)
{
    (void)state;
    const clrt_source *src = embedded("tensor");
    assert_non_null(src);
    assert_true(src->len > 0);
    const char *text = (const char *)src->data;
    /* common.h was expanded in place, not left for the device compiler. */
    assert_null(strstr(text, "#include \"common.h\""));
    assert_non_null(strstr(text, "#line 1 \"common.h\""));
    assert_non_null(strstr(text, "#define CLRT_WG_1D"));
    assert_non_null(strstr(text, "__kernel void clrt_fill"));
    check_against_disk("tensor");
}

static void every_cl_file_is_embedded(void **state)
{
    (void)state;
    /* Collect the names first, so a failed check leaves no directory open. */
    char names[64][256];
    size_t files = 0;
    DIR *d = opendir(CLRT_SOURCE_DIR "/cl");
    assert_non_null(d);
    struct dirent *e;
    bool too_many = false, too_long = false;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n <= 3 || strcmp(e->d_name + n - 3, ".cl") != 0)
            continue;
        if (files == sizeof names / sizeof names[0]) {
            too_many = true;
            break;
        }
        if (n - 3 >= sizeof names[0]) {
            too_long = true;
            continue;
        }
        memcpy(names[files], e->d_name, n - 3);
        names[files][n - 3] = '\0';
        files++;
    }
    closedir(d);
    assert_false(too_many);
    assert_false(too_long);
    assert_true(files >= 1);
    for (size_t i = 0; i < files; i++)
        check_against_disk(names[i]);

    /* And nothing else: each entry comes from a cl/ file, once. */
    assert_int_equal(clrt_embedded_source_count, files);
    for (size_t i = 0; i < clrt_embedded_source_count; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/cl/%s.cl", CLRT_SOURCE_DIR, clrt_embedded_sources[i].name);
        if (stat(path, &st) != 0)
            fail_msg("embedded \"%s\" has no %s", clrt_embedded_sources[i].name, path);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(clrt_embedded_sources[i].name,
                                    clrt_embedded_sources[j].name);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nested_includes_with_line_markers),
        cmocka_unit_test(include_spellings),
        cmocka_unit_test(system_includes_and_other_lines_untouched),
        cmocka_unit_test(missing_include),
        cmocka_unit_test(include_cycles_are_refused),
        cmocka_unit_test(deep_but_finite_nesting),
        cmocka_unit_test(includes_outside_the_folder_are_refused),
        cmocka_unit_test(err_buffer_is_optional),
        cmocka_unit_test(read_file),
        cmocka_unit_test(embedded_tensor),
        cmocka_unit_test(every_cl_file_is_embedded),
    };
    return cmocka_run_group_tests_name("unit-embed", tests, make_tmp, clrt_unit_tmp_teardown);
}
