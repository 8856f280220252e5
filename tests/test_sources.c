/*
 * test_sources.c: the file walker (sources.h) on a temporary tree: argument
 * order, directories in byte order of names, hidden files and directories
 * skipped, links to files followed, a link loop and a dangling link survived,
 * empty files listed, sizes and identities; and its errors: a missing path, an
 * empty directory (also one that holds only hidden files or empty
 * directories), an unreadable directory, too many files, no arguments.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "sources.h"

static char base[256];

static char *made[200]; /* every path at() returned, freed at the end */
static size_t nmade;

/* base "/" rel, valid until the end of the test. */
static const char *at(const char *rel)
{
    char *p = malloc(strlen(base) + strlen(rel) + 2);
    if (!p || nmade == sizeof made / sizeof *made) {
        fprintf(stderr, "test_sources: out of paths\n");
        exit(99);
    }
    sprintf(p, "%s/%s", base, rel);
    return made[nmade++] = p;
}

static void put(const char *rel, const char *text)
{
    FILE *f = fopen(at(rel), "w");
    CHECK(f != NULL, "cannot create %s", at(rel));
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void dir(const char *rel)
{
    CHECK(mkdir(at(rel), 0755) == 0, "mkdir %s: %s", rel, strerror(errno));
}

static void link_to(const char *target, const char *rel)
{
    CHECK(symlink(target, at(rel)) == 0, "symlink %s: %s", rel, strerror(errno));
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)ftw;
    if (type == FTW_DP)
        chmod(path, 0755); /* the unreadable directory */
    return remove(path);
}

/* Expands args and compares the paths (relative to base) with want[]. */
static void expect_list(const char *const *args, size_t n, const char *const *want,
                        size_t count, const char *what)
{
    crnn_sources s;
    crnn_error err = {0};
    int rc = crnn_sources_expand(args, n, &s, &err);
    CHECK_OK(rc, err);
    if (rc != CRNN_OK)
        return;
    CHECK(s.count == count, "%s: %zu files, expected %zu", what, s.count, count);
    for (size_t i = 0; i < s.count && i < count; i++)
        CHECK(!strcmp(s.files[i].path, at(want[i])), "%s: file %zu is %s, expected %s", what,
              i, s.files[i].path, at(want[i]));
    crnn_sources_free(&s);
    CHECK(s.files == NULL && s.count == 0, "crnn_sources_free left the list");
}

static void expect_error(const char *const *args, size_t n, size_t max_files, int status,
                         const char *needle)
{
    crnn_sources s;
    crnn_error err = {0};
    int rc = crnn_sources_expand_at_most(args, n, max_files, &s, &err);
    CHECK(rc == status, "%s: status %d, expected %d (%s)", n ? args[0] : "()", rc, status,
          err.message);
    CHECK(strstr(err.message, needle) != NULL, "message '%s' lacks '%s'", err.message, needle);
    CHECK(s.files == NULL && s.count == 0, "a failed expansion left %zu files", s.count);
    crnn_sources_free(&s);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(base, sizeof base, "%s/crnn-sources-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(base)) {
        fprintf(stderr, "cannot create a temporary directory: %s\n", strerror(errno));
        return 99;
    }
    dir("tree");
    put("tree/b.txt", "bb");
    put("tree/a.txt", "a");
    put("tree/A.txt", "AAA"); /* 'A' < 'a' in byte order */
    put("tree/empty.txt", "");
    put("tree/.hidden.txt", "secret");
    dir("tree/.git");
    put("tree/.git/config", "x");
    dir("tree/sub");
    put("tree/sub/z.txt", "zzzz");
    dir("tree/sub/deeper");
    put("tree/sub/deeper/y.txt", "y");
    link_to("..", "tree/sub/loop");                 /* back to tree: must not loop */
    link_to("sub/z.txt", "tree/link.txt");          /* a link to a file: followed */
    link_to("nowhere", "tree/dangling");            /* skipped */
    link_to("self", "tree/self");                   /* a link to itself: skipped */
    CHECK(mkfifo(at("tree/fifo"), 0644) == 0, "mkfifo: %s", strerror(errno)); /* skipped */
    dir("empty");
    dir("hidden_only");
    put("hidden_only/.x", "x");
    dir("nested_empty");
    dir("nested_empty/inner");
    dir("locked");
    put("locked/f.txt", "f");

    /* A directory: entries in strcmp order, depth first, hidden and special skipped. */
    const char *tree_files[] = {"tree/A.txt", "tree/a.txt", "tree/b.txt", "tree/empty.txt",
                                "tree/link.txt", "tree/sub/deeper/y.txt", "tree/sub/z.txt"};
    const char *tree_arg[] = {at("tree")};
    expect_list(tree_arg, 1, tree_files, 7, "tree");
    char slashed[600];
    snprintf(slashed, sizeof slashed, "%s/tree//", base);
    const char *slashed_arg[] = {slashed};
    expect_list(slashed_arg, 1, tree_files, 7, "tree// (no doubled slashes)");

    /* Arguments keep their order; files are taken as given, hidden or not. */
    const char *mixed[] = {at("tree/sub/z.txt"), at("tree/sub"), at("tree/.hidden.txt"),
                           at("tree/a.txt")};
    const char *mixed_files[] = {"tree/sub/z.txt", "tree/sub/deeper/y.txt",
                                 "tree/sub/loop/A.txt", "tree/sub/loop/a.txt",
                                 "tree/sub/loop/b.txt", "tree/sub/loop/empty.txt",
                                 "tree/sub/loop/link.txt", "tree/sub/z.txt",
                                 "tree/.hidden.txt", "tree/a.txt"};
    /* From tree/sub, the link loop leads to tree (not seen yet) once, whose
     * sub is then already seen. */
    expect_list(mixed, 4, mixed_files, 10, "mixed arguments");

    /* Sizes and identities, through links too. */
    crnn_sources s;
    crnn_error err = {0};
    struct timespec times[2] = {{0, UTIME_OMIT}, {1234567890, 987654321}};
    CHECK(utimensat(AT_FDCWD, at("tree/b.txt"), times, 0) == 0, "utimensat: %s", strerror(errno));
    CHECK_OK(crnn_sources_expand(tree_arg, 1, &s, &err), err);
    if (s.count == 7) {
        uint64_t sizes[] = {3, 1, 2, 0, 4, 1, 4};
        for (size_t i = 0; i < 7; i++)
            CHECK(s.files[i].bytes == sizes[i], "%s: %llu bytes, expected %llu", s.files[i].path,
                  (unsigned long long)s.files[i].bytes, (unsigned long long)sizes[i]);
        CHECK(s.bytes == 15, "total %llu bytes, expected 15", (unsigned long long)s.bytes);
        struct stat st;
        CHECK(stat(at("tree/sub/z.txt"), &st) == 0, "stat");
        CHECK(s.files[4].inode == (uint64_t)st.st_ino && s.files[4].device == (uint64_t)st.st_dev,
              "the link's identity is not its target's");
        CHECK(s.files[0].inode != s.files[1].inode, "two files share an inode");
        CHECK(s.files[2].mtime_sec == 1234567890 && s.files[2].mtime_nsec == 987654321,
              "mtime %lld.%09lld", (long long)s.files[2].mtime_sec,
              (long long)s.files[2].mtime_nsec);
    }
    crnn_sources_free(&s);
    crnn_sources_free(NULL);

    /* The same directory twice is walked twice. */
    const char *twice[] = {at("tree/sub/deeper"), at("tree/sub/deeper")};
    const char *twice_files[] = {"tree/sub/deeper/y.txt", "tree/sub/deeper/y.txt"};
    expect_list(twice, 2, twice_files, 2, "a directory given twice");

    /* Errors. */
    const char *missing[] = {at("tree/a.txt"), at("missing.txt")};
    expect_error(missing, 2, 100, CRNN_ERR_IO, "cannot open");
    expect_error(missing + 1, 1, 100, CRNN_ERR_IO, "missing.txt");
    const char *empty[] = {at("tree"), at("empty")};
    expect_error(empty, 2, 100, CRNN_ERR_DATA, "empty holds no text files");
    const char *hidden_only[] = {at("hidden_only")};
    expect_error(hidden_only, 1, 100, CRNN_ERR_DATA,
                 "hidden_only holds no text files (names beginning with '.' are skipped)");
    const char *nested_empty[] = {at("nested_empty")};
    expect_error(nested_empty, 1, 100, CRNN_ERR_DATA, "nested_empty holds no text files");
    expect_error(tree_arg, 1, 6, CRNN_ERR_DATA, "more than 6 files");
    expect_list(tree_arg, 1, tree_files, 7, "tree"); /* 7 fit in 7 */
    expect_error(tree_arg, 0, 100, CRNN_ERR_ARG, "no files given");
    const char *blank[] = {""};
    expect_error(blank, 1, 100, CRNN_ERR_ARG, "empty file name");
    CHECK(chmod(at("locked"), 0) == 0, "chmod: %s", strerror(errno));
    DIR *probe = opendir(at("locked"));
    if (probe) { /* root reads it anyway */
        closedir(probe);
        fprintf(stderr, "test_sources: running as root: the unreadable directory is not checked\n");
    } else {
        const char *locked[] = {at("locked")};
        expect_error(locked, 1, 100, CRNN_ERR_IO, "cannot read directory");
    }

    nftw(base, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    for (size_t i = 0; i < nmade; i++)
        free(made[i]);
    return check_result("test_sources");
}
