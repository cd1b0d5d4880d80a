/* SPDX-License-Identifier: Apache-2.0 */
/* outset.c - output sets (all of a job's files or none), output-path checks and the sweep of
 * temp files left by killed writers. Invariant: before sl_outset_commit no final path was
 * touched; after a failed commit or an abort no staged file remains. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "synthloop/sl_core.h"

/* --- stale temp files -------------------------------------------------- */

/* The pid of a name ending in ".tmp.<digits>", else 0. */
static long tmp_pid(const char *name) {
    const char *t = strstr(name, ".tmp.");
    const char *last = NULL;
    for (; t; t = strstr(t + 1, ".tmp.")) last = t;
    if (!last) return 0;
    const char *d = last + 5;
    if (!*d) return 0;
    long pid = 0;
    for (; *d; d++) {
        if (*d < '0' || *d > '9' || pid > 100000000L) return 0;
        pid = pid * 10 + (*d - '0');
    }
    return pid;
}

static int pid_alive(long pid) { return kill((pid_t)pid, 0) == 0 || errno == EPERM; }

sl_status sl_sweep_stale_tmp(const char *dir, const char *prefix, size_t *removed) {
    if (removed) *removed = 0;
    DIR *d = opendir(dir && *dir ? dir : ".");
    if (!d) return sl_set_error(SL_ERR_IO, "%s: cannot list directory: %s", dir, strerror(errno));
    size_t np = prefix ? strlen(prefix) : 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (np && strncmp(e->d_name, prefix, np) != 0) continue;
        long pid = tmp_pid(e->d_name);
        if (pid <= 0 || pid == (long)getpid() || pid_alive(pid)) continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) == 0 && removed) (*removed)++;
    }
    closedir(d);
    return SL_OK;
}

/* --- output checks ----------------------------------------------------- */

/* dirname / basename of path into malloc'd copies. */
static sl_status split_path(const char *path, char **dir, char **base) {
    char *a = strdup(path), *b = strdup(path);
    *dir = a ? strdup(dirname(a)) : NULL;
    *base = b ? strdup(basename(b)) : NULL;
    free(a);
    free(b);
    if (!*dir || !*base) {
        free(*dir);
        free(*base);
        return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", path);
    }
    return SL_OK;
}

sl_status sl_output_check(const char *path) {
    if (!path || !*path) return sl_set_error(SL_ERR_ARG, "output path is empty");
    size_t len = strlen(path);
    if (path[len - 1] == '/')
        return sl_set_error(SL_ERR_ARG, "%s: output path names a directory", path);
    char *dir, *base;
    SL_TRY(split_path(path, &dir, &base));
    sl_status s = SL_OK;
    struct stat st;
    if (stat(dir, &st) != 0)
        s = sl_set_error(SL_ERR_IO, "%s: output directory %s: %s", path, dir, strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        s = sl_set_error(SL_ERR_IO, "%s: %s is not a directory", path, dir);
    else if (access(dir, W_OK | X_OK) != 0)
        s = sl_set_error(SL_ERR_IO, "%s: output directory %s is not writable: %s", path, dir,
                         strerror(errno));
    if (s == SL_OK && stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            s = sl_set_error(SL_ERR_IO, "%s: is a directory", path);
        else if (!S_ISREG(st.st_mode))
            s = sl_set_error(SL_ERR_IO, "%s: exists and is not a regular file", path);
        else if ((st.st_mode & 0222) == 0)
            s = sl_set_error(SL_ERR_IO, "%s: exists and is read-only; not replaced (remove it "
                             "or make it writable)", path);
    }
    free(dir);
    free(base);
    return s;
}

/* --- output sets ------------------------------------------------------- */

void sl_outset_init(sl_outset *o) { memset(o, 0, sizeof *o); }

sl_status sl_outset_add(sl_outset *o, const char *final_path, const char **stage_path) {
    if (stage_path) *stage_path = NULL;
    if (o->done) return sl_set_error(SL_ERR_STATE, "%s: output set already finished", final_path);
    SL_TRY(sl_output_check(final_path));
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->final_path[i], final_path) == 0)
            return sl_set_error(SL_ERR_ARG, "%s: given as two different outputs", final_path);
    if (o->n == o->cap) {
        size_t nc = o->cap ? 2 * o->cap : 8;
        char **f = realloc(o->final_path, nc * sizeof *f);
        if (f) o->final_path = f;
        char **g = f ? realloc(o->stage_path, nc * sizeof *g) : NULL;
        if (g) o->stage_path = g;
        if (!f || !g) return sl_set_error(SL_ERR_NOMEM, "%s: out of memory", final_path);
        o->cap = nc;
    }
    char *dir, *base;
    SL_TRY(split_path(final_path, &dir, &base));
    /* stale temp files beside this output: of this name and of its staged copies */
    size_t nb = strlen(base) + 3;
    char *pre = malloc(nb);
    sl_status s = pre ? SL_OK : sl_set_error(SL_ERR_NOMEM, "%s: out of memory", final_path);
    if (s == SL_OK) {
        snprintf(pre, nb, "%s", base);
        s = sl_sweep_stale_tmp(dir, pre, NULL);
        snprintf(pre, nb, ".%s", base);
        if (s == SL_OK) s = sl_sweep_stale_tmp(dir, pre, NULL);
    }
    free(pre);
    /* the staged file: "<dir>/.<base>.tmp.<pid>" (swept like any temp file if we die) */
    size_t n = strlen(dir) + strlen(base) + 40;
    char *stage = s == SL_OK ? malloc(n) : NULL;
    char *fin = s == SL_OK ? strdup(final_path) : NULL;
    if (s == SL_OK && (!stage || !fin)) s = sl_set_error(SL_ERR_NOMEM, "%s: out of memory", final_path);
    if (s == SL_OK) {
        snprintf(stage, n, "%s/.%s.tmp.%ld", dir, base, (long)getpid());
        int fd = open(stage, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            s = sl_set_error(SL_ERR_IO, "%s: cannot create a file in its directory: %s",
                             final_path, strerror(errno));
        else close(fd);
    }
    free(dir);
    free(base);
    if (s != SL_OK) {
        free(stage);
        free(fin);
        return s;
    }
    o->final_path[o->n] = fin;
    o->stage_path[o->n] = stage;
    o->n++;
    if (stage_path) *stage_path = stage;
    return SL_OK;
}

void sl_outset_abort(sl_outset *o) {
    for (size_t i = 0; i < o->n; i++)
        if (o->stage_path[i]) unlink(o->stage_path[i]);
    o->done = 1;
}

static void fsync_dir(const char *path) {
    char *copy = strdup(path);
    if (!copy) return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

sl_status sl_outset_commit(sl_outset *o) {
    if (o->done) return sl_set_error(SL_ERR_STATE, "output set already finished");
    /* every staged file must exist and be non-empty-or-written: re-check the finals first so
     * that a file made read-only while the job ran is still refused before anything moves */
    for (size_t i = 0; i < o->n; i++) {
        sl_status s = sl_output_check(o->final_path[i]);
        struct stat st;
        if (s == SL_OK && stat(o->stage_path[i], &st) != 0)
            s = sl_set_error(SL_ERR_IO, "%s: its staged copy vanished: %s", o->final_path[i],
                             strerror(errno));
        if (s != SL_OK) {
            sl_outset_abort(o);
            return s;
        }
    }
    for (size_t i = 0; i < o->n; i++) {
        if (rename(o->stage_path[i], o->final_path[i]) != 0) {
            sl_status s = sl_set_error(SL_ERR_IO, "%s: rename failed: %s (outputs before it in "
                                       "the set were published)", o->final_path[i],
                                       strerror(errno));
            sl_outset_abort(o);
            return s;
        }
        free(o->stage_path[i]);
        o->stage_path[i] = NULL;
        fsync_dir(o->final_path[i]);
    }
    o->done = 1;
    return SL_OK;
}

void sl_outset_free(sl_outset *o) {
    if (!o) return;
    if (!o->done) sl_outset_abort(o);
    for (size_t i = 0; i < o->n; i++) {
        free(o->final_path[i]);
        free(o->stage_path[i]);
    }
    free(o->final_path);
    free(o->stage_path);
    memset(o, 0, sizeof *o);
}
