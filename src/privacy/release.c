/* SPDX-License-Identifier: Apache-2.0 */
/* release.c - one anonymised release: compute in memory, write a temp file, charge the ledger
 * in the transaction that records the release, then rename into place; recovery; retention.
 *
 * Invariant (the order that makes kill -9 safe): the output file appears under its final name
 * only after the transaction holding its log row and charges has committed. A process killed
 * before the commit leaves at most a temp file (no charge, no release); killed after it, a
 * 'pending' row whose temp file sl_privacy_recover renames into place.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "privacy_internal.h"

/* --- names, profile, options ---------------------------------------------------------------- */

static const char *const tech_names[SL_TECH_COUNT] = {"dp", "kanon", "pseudo", "generalize",
                                                      "aggregate"};
_Static_assert(sizeof tech_names / sizeof tech_names[0] == SL_TECH_COUNT, "techniques");

const char *sl_technique_name(sl_technique t) {
    return (unsigned)t < SL_TECH_COUNT ? tech_names[t] : "unknown";
}

sl_status sl_technique_parse(const char *name, sl_technique *out) {
    for (int i = 0; i < SL_TECH_COUNT; i++)
        if (name && strcmp(name, tech_names[i]) == 0) {
            *out = (sl_technique)i;
            return SL_OK;
        }
    return sl_set_error(SL_ERR_ARG,
                        "unknown technique '%s' (dp, kanon, pseudo, generalize, aggregate)",
                        name ? name : "(null)");
}

void sl_priv_profile_default(sl_priv_profile *p) {
    p->kanon = 0.3;
    p->pseudo = 0.1;
    p->generalize = 0.2;
}

sl_status sl_priv_profile_load(const char *path, sl_priv_profile *p) {
    cJSON *j = NULL;
    char *txt = NULL;
    size_t len = 0;
    SL_TRY(sl_read_file(path, &txt, &len));
    j = cJSON_ParseWithLength(txt, len);
    free(txt);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return sl_set_error(SL_ERR_FORMAT, "%s: the profile must be a JSON object", path);
    }
    const char *keys[3] = {"kanon", "pseudo", "generalize"};
    double *dst[3] = {&p->kanon, &p->pseudo, &p->generalize};
    sl_status s = SL_OK;
    for (int i = 0; i < 3 && s == SL_OK; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, keys[i]);
        if (!v) continue;
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0)
            s = sl_set_error(SL_ERR_FORMAT, "%s: \"%s\" must be a number >= 0", path, keys[i]);
        else
            *dst[i] = v->valuedouble;
    }
    cJSON_Delete(j);
    return s;
}

void sl_release_opts_default(sl_release_opts *o) {
    memset(o, 0, sizeof *o);
    o->technique = SL_TECH_DP;
    o->k = 5;
    o->l = 1;
    o->pool_days = 90;
    o->max_rows_per_subject = 1;
    sl_priv_profile_default(&o->profile);
}

/* --- output buffer -------------------------------------------------------------------------- */

void sl_pbuf_put(sl_pbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->len + n + 1) nc *= 2;
        char *g = realloc(b->p, nc);
        if (!g) {
            b->oom = 1;
            return;
        }
        b->p = g;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void sl_pbuf_puts(sl_pbuf *b, const char *s) { sl_pbuf_put(b, s, strlen(s)); }

void sl_pbuf_field(sl_pbuf *b, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        sl_pbuf_puts(b, s);
        return;
    }
    sl_pbuf_put(b, "\"", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '"') sl_pbuf_put(b, "\"", 1);
        sl_pbuf_put(b, p, 1);
    }
    sl_pbuf_put(b, "\"", 1);
}

void sl_pbuf_printf(sl_pbuf *b, const char *fmt, ...) {
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        b->oom = 1;
        return;
    }
    sl_pbuf_put(b, tmp, (size_t)n);
}

/* --- what each column becomes ----------------------------------------------------------------- */

typedef enum out_kind {
    OUT_DROP = 0,
    OUT_COPY,
    OUT_PSEUDO,
    OUT_GENERALISED,
    OUT_NOISE,
    OUT_RR
} out_kind;

typedef struct col_plan {
    out_kind kind;
    int q;              /* OUT_GENERALISED: QI index in the k-anonymity result */
    sl_dp_mech mech;    /* OUT_NOISE */
    double lo, hi;      /* OUT_NOISE: clipping bounds */
    sl_pseudo_ctx *ps;  /* OUT_PSEUDO: the column's prepared HMAC state */
    double eps;         /* OUT_NOISE (Laplace) / OUT_RR: the column's epsilon */
    uint32_t *cat;      /* OUT_RR: category index per row */
    int n_cat;
} col_plan;

static void plans_free(col_plan *p, int n) {
    if (!p) return;
    for (int i = 0; i < n; i++) {
        free(p[i].cat);
        sl_pseudo_ctx_wipe(p[i].ps);
        free(p[i].ps);
    }
    free(p);
}

/* Plan the DP columns: per-record epsilon (or rho) split over noised columns. */
static sl_status plan_dp(const sl_priv_table *t, const sl_priv_schema *s, const sl_release_opts *o,
                         col_plan *plan, double *rho_total, cJSON *cols_json) {
    if (!isfinite(o->epsilon) || o->epsilon <= 0)
        return sl_set_error(SL_ERR_ARG, "dp: epsilon %g must be > 0", o->epsilon);
    if (!isfinite(o->delta) || o->delta < 0 || o->delta >= 1)
        return sl_set_error(SL_ERR_ARG, "dp: delta %g must be in [0, 1)", o->delta);
    int n_noised = 0, n_unset = 0;
    double eps_set = 0;
    for (int c = 0; c < t->n_cols; c++) {
        if (t->spec[c] < 0) continue;
        const sl_col_spec *cs = &s->cols[t->spec[c]];
        if (cs->role == SL_ROLE_MEASUREMENT || (cs->role == SL_ROLE_SENSITIVE && cs->n_domain)) {
            n_noised++;
            if (cs->epsilon > 0)
                eps_set += cs->epsilon;
            else
                n_unset++;
        }
    }
    if (n_noised == 0)
        return sl_set_error(SL_ERR_ARG, "dp: schema %s has no measurement column and no sensitive "
                            "column with a domain: nothing to noise", s->source);
    int gauss = o->delta > 0;
    if (gauss && eps_set > 0)
        return sl_set_error(SL_ERR_ARG, "dp: per-column epsilons in %s apply to Laplace only "
                            "(--delta 0)", s->source);
    if (eps_set > o->epsilon * (1 + 1e-12))
        return sl_set_error(SL_ERR_ARG, "dp: the columns of %s ask for epsilon %g in total, more "
                            "than the release's %g", s->source, eps_set, o->epsilon);
    if (n_unset == 0 && eps_set < o->epsilon * (1 - 1e-12))
        return sl_set_error(SL_ERR_ARG, "dp: the columns of %s set epsilon %g in total; the "
                            "release's %g must equal it", s->source, eps_set, o->epsilon);
    double eps_each = n_unset ? (o->epsilon - eps_set) / n_unset : 0;
    *rho_total = gauss ? sl_dp_rho_from_eps_delta(o->epsilon, o->delta) : 0;
    double rho_each = gauss ? *rho_total / n_noised : 0;
    for (int c = 0; c < t->n_cols; c++) {
        if (t->spec[c] < 0) continue;
        const sl_col_spec *cs = &s->cols[t->spec[c]];
        col_plan *p = &plan[c];
        if (cs->role == SL_ROLE_MEASUREMENT) {
            p->kind = OUT_NOISE;
            p->lo = cs->lo;
            p->hi = cs->hi;
            uint64_t sens = sl_dp_value_sens(cs->lo, cs->hi, cs->grid);
            if (sens == 0)
                return sl_set_error(SL_ERR_RANGE, "%s: column '%s': clip range / grid too large",
                                    s->source, cs->name);
            p->eps = cs->epsilon > 0 ? cs->epsilon : eps_each;
            sl_status st = gauss ? sl_dp_mech_gaussian_rho(&p->mech, rho_each, sens, cs->grid)
                                 : sl_dp_mech_laplace(&p->mech, p->eps, sens, cs->grid);
            if (st != SL_OK)
                return sl_set_error(st, "%s: column '%s': %s", s->source, cs->name, sl_last_error());
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "column", cs->name);
            cJSON_AddStringToObject(j, "mechanism", gauss ? "discrete_gaussian" : "discrete_laplace");
            if (gauss)
                cJSON_AddNumberToObject(j, "rho", rho_each);
            else
                cJSON_AddNumberToObject(j, "epsilon", p->eps);
            cJSON_AddNumberToObject(j, "grid", cs->grid);
            cJSON_AddNumberToObject(j, "sensitivity_grid", (double)sens);
            cJSON_AddItemToArray(cols_json, j);
        } else if (cs->role == SL_ROLE_SENSITIVE && cs->n_domain) {
            p->kind = OUT_RR;
            /* eps-DP implies eps^2/2-zCDP: a RR column's share of rho gives sqrt(2 rho) */
            p->eps = gauss ? sqrt(2.0 * rho_each) : (cs->epsilon > 0 ? cs->epsilon : eps_each);
            p->n_cat = cs->n_domain;
            p->cat = malloc(t->n_rows * sizeof *p->cat);
            if (!p->cat) return sl_set_error(SL_ERR_NOMEM, "dp: out of memory");
            for (size_t r = 0; r < t->n_rows; r++)
                for (int d = 0; d < cs->n_domain; d++)
                    if (strcmp(cs->domain[d], t->cell[c][r]) == 0) p->cat[r] = (uint32_t)d;
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "column", cs->name);
            cJSON_AddStringToObject(j, "mechanism", "randomized_response");
            cJSON_AddNumberToObject(j, "epsilon", p->eps);
            cJSON_AddNumberToObject(j, "k", cs->n_domain);
            cJSON_AddItemToArray(cols_json, j);
        }
    }
    return SL_OK;
}

/* --- the release ---------------------------------------------------------------------------- */

static int64_t clock_now(void) { return (int64_t)time(NULL); }

static void fsync_dir(const char *path) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = 0;
    else if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static sl_status write_temp(const char *tmp, const char *data, size_t len) {
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return sl_set_error(SL_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return sl_set_error(SL_ERR_IO, "%s: write failed: %s", tmp, strerror(e));
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return sl_set_error(SL_ERR_IO, "%s: fsync failed: %s", tmp, strerror(e));
    }
    return SL_OK;
}

static int cmp_strp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

sl_status sl_privacy_release(sl_registry *reg, const sl_priv_table *t, const sl_priv_schema *s,
                             const char *in_path, const char *out_path,
                             const sl_release_opts *o, sl_release_result *res) {
    memset(res, 0, sizeof *res);
    if (!reg)
        return sl_set_error(SL_ERR_ARG, "release: refused without a registry (the budget ledger "
                            "must record every release)");
    if (!out_path || !*out_path) return sl_set_error(SL_ERR_ARG, "release: no output path");
    if ((unsigned)o->technique >= SL_TECH_COUNT)
        return sl_set_error(SL_ERR_ARG, "release: unknown technique");
    if (o->technique == SL_TECH_PSEUDO && !o->key)
        return sl_set_error(SL_ERR_ARG, "pseudo: no key: give --key-file FILE or set %s (at "
                            "least %d bytes)", SL_PSEUDO_ENV, SL_PSEUDO_KEY_MIN);
    sl_budget_defaults def;
    SL_TRY(sl_budget_defaults_from_env(&def));
    SL_TRY(sl_privacy_recover(reg, NULL));

    sl_status st = SL_OK;
    col_plan *plan = calloc((size_t)t->n_cols, sizeof *plan);
    cJSON *params = cJSON_CreateObject();
    cJSON *cols_json = cJSON_CreateArray();
    sl_kanon_result *kr = NULL;
    sl_pbuf out = {0};
    char **subj = NULL;
    uint32_t *rows_of = NULL; /* released rows per subject */
    size_t n_subj = 0;
    char *tmp = NULL, *params_txt = NULL;
    double rho_total = 0, eps_charge = 0;
    int formal = 0;
    if (!plan || !params || !cols_json) st = sl_set_error(SL_ERR_NOMEM, "release: out of memory");
    if (st == SL_OK) {
        cJSON_AddStringToObject(params, "technique", sl_technique_name(o->technique));
        cJSON_AddItemToObject(params, "columns", cols_json);
        cols_json = NULL;
    }
    /* 1. plan every column */
    if (st == SL_OK && o->technique == SL_TECH_DP) {
        st = plan_dp(t, s, o, plan, &rho_total, cJSON_GetObjectItem(params, "columns"));
        eps_charge = o->epsilon;
        formal = 1;
        cJSON_AddNumberToObject(params, "epsilon", o->epsilon);
        cJSON_AddNumberToObject(params, "delta", o->delta);
        if (o->delta > 0) cJSON_AddNumberToObject(params, "rho", rho_total);
        cJSON_AddBoolToObject(params, "seeded_noise", o->seeded);
    } else if (st == SL_OK && (o->technique == SL_TECH_KANON || o->technique == SL_TECH_GENERALIZE)) {
        st = o->technique == SL_TECH_KANON
                 ? sl_kanon_mondrian(t, s, o->k, o->l, &kr)
                 : sl_kanon_full_domain(t, s, o->k, o->l, o->max_suppress, &kr);
        eps_charge = o->technique == SL_TECH_KANON ? o->profile.kanon : o->profile.generalize;
        cJSON_AddNumberToObject(params, "k", (double)o->k);
        cJSON_AddNumberToObject(params, "l", o->l);
        if (o->technique == SL_TECH_GENERALIZE)
            cJSON_AddNumberToObject(params, "max_suppress", o->max_suppress);
    } else if (st == SL_OK && o->technique == SL_TECH_AGGREGATE) {
        /* checked and described by sl_dp_aggregate below, before anything is written */
        eps_charge = o->epsilon;
        formal = 1;
    } else if (st == SL_OK) {
        eps_charge = o->profile.pseudo;
    }
    if (st == SL_OK && (!isfinite(eps_charge) || eps_charge < 0))
        st = sl_set_error(SL_ERR_ARG, "release: accounting epsilon %g invalid", eps_charge);
    if (st == SL_OK && !formal) cJSON_AddNumberToObject(params, "accounting_epsilon", eps_charge);
    for (int c = 0; st == SL_OK && c < t->n_cols; c++) {
        if (t->spec[c] < 0) continue; /* columns the schema does not name are dropped */
        const sl_col_spec *cs = &s->cols[t->spec[c]];
        col_plan *p = &plan[c];
        if (p->kind != OUT_DROP) continue; /* planned by plan_dp */
        switch (cs->role) {
        case SL_ROLE_IDENTIFIER:
        case SL_ROLE_SUBJECT:
            p->kind = o->key ? OUT_PSEUDO : OUT_DROP;
            if (p->kind == OUT_PSEUDO) {
                p->ps = malloc(sizeof *p->ps);
                if (!p->ps)
                    st = sl_set_error(SL_ERR_NOMEM, "release: out of memory");
                else
                    sl_pseudo_ctx_init(p->ps, o->key, t->header[c]);
            }
            break;
        case SL_ROLE_QUASI:
            if (kr) {
                p->kind = OUT_GENERALISED;
                for (int q = 0; q < kr->n_qi; q++)
                    if (kr->qi_col[q] == c) p->q = q;
            } else {
                p->kind = o->technique == SL_TECH_DP ? OUT_DROP : OUT_COPY;
            }
            break;
        case SL_ROLE_SENSITIVE:
        case SL_ROLE_MEASUREMENT:
            p->kind = o->technique == SL_TECH_DP ? OUT_DROP : OUT_COPY;
            break;
        default: p->kind = OUT_COPY;
        }
    }
    /* 2. subjects */
    int subj_col = -1;
    for (int c = 0; c < t->n_cols; c++)
        if (t->spec[c] >= 0 && s->cols[t->spec[c]].role == SL_ROLE_SUBJECT) subj_col = c;
    if (st == SL_OK && subj_col >= 0) {
        subj = malloc(t->n_rows * sizeof *subj);
        if (!subj) st = sl_set_error(SL_ERR_NOMEM, "release: out of memory");
        for (size_t r = 0; st == SL_OK && r < t->n_rows; r++) {
            if (kr && kr->cls[r] < 0) continue; /* suppressed rows are not released */
            subj[n_subj++] = t->cell[subj_col][r];
        }
        if (st == SL_OK) {
            rows_of = malloc((n_subj ? n_subj : 1) * sizeof *rows_of);
            if (!rows_of) st = sl_set_error(SL_ERR_NOMEM, "release: out of memory");
        }
        if (st == SL_OK) {
            qsort(subj, n_subj, sizeof *subj, cmp_strp);
            size_t u = 0;
            for (size_t i = 0; i < n_subj; i++) {
                if (i == 0 || strcmp(subj[i], subj[u - 1]) != 0) {
                    subj[u] = subj[i];
                    rows_of[u++] = 0;
                }
                if (rows_of[u - 1] < UINT32_MAX) rows_of[u - 1]++;
            }
            n_subj = u;
        }
    }
    /* 3. the output, in memory */
    if (st == SL_OK && o->technique == SL_TECH_AGGREGATE) {
        sl_dp_rng rng;
        st = o->seeded ? sl_dp_rng_init_seeded(&rng, o->seed) : sl_dp_rng_init_os(&rng);
        if (st == SL_OK) st = sl_dp_aggregate(t, s, o, &rng, &out, params, &rho_total);
        sodium_memzero(&rng, sizeof rng);
        for (size_t i = 0; st == SL_OK && i + 1 < out.len; i++)
            if (out.p[i] == '\n') res->n_rows_out++; /* data lines after the header */
    } else if (st == SL_OK) {
        sl_dp_rng rng;
        st = o->seeded ? sl_dp_rng_init_seeded(&rng, o->seed) : sl_dp_rng_init_os(&rng);
        int first = 1;
        for (int c = 0; st == SL_OK && c < t->n_cols; c++) {
            if (t->spec[c] < 0 || plan[c].kind == OUT_DROP) continue;
            if (!first) sl_pbuf_put(&out, ",", 1);
            sl_pbuf_field(&out, t->header[c]);
            first = 0;
        }
        if (first && st == SL_OK)
            st = sl_set_error(SL_ERR_ARG, "release: schema %s leaves no column to publish with "
                              "technique %s", s->source, sl_technique_name(o->technique));
        sl_pbuf_put(&out, "\n", 1);
        for (size_t r = 0; st == SL_OK && r < t->n_rows; r++) {
            if (kr && kr->cls[r] < 0) continue;
            first = 1;
            for (int c = 0; c < t->n_cols; c++) {
                col_plan *p = &plan[c];
                if (t->spec[c] < 0 || p->kind == OUT_DROP) continue;
                if (!first) sl_pbuf_put(&out, ",", 1);
                first = 0;
                const char *v = t->cell[c][r];
                char ps[33];
                switch (p->kind) {
                case OUT_PSEUDO:
                    sl_pseudo_ctx_apply(p->ps, v, ps);
                    sl_pbuf_puts(&out, ps);
                    break;
                case OUT_GENERALISED: sl_pbuf_field(&out, kr->gen[p->q][r]); break;
                case OUT_NOISE: {
                    double x = t->num[c][r];
                    x = x < p->lo ? p->lo : x > p->hi ? p->hi : x;
                    double y = sl_dp_mech_apply(&p->mech, &rng, x);
                    /* shortest of %.15g / %.17g that reads back as the same double */
                    char nb[40];
                    snprintf(nb, sizeof nb, "%.15g", y);
                    if (strtod(nb, NULL) != y) snprintf(nb, sizeof nb, "%.17g", y);
                    sl_pbuf_puts(&out, nb);
                    break;
                }
                case OUT_RR: {
                    uint32_t y = sl_dp_randomized_response(&rng, p->cat[r], (uint32_t)p->n_cat,
                                                           p->eps);
                    sl_pbuf_field(&out, s->cols[t->spec[c]].domain[y]);
                    break;
                }
                default: sl_pbuf_field(&out, v);
                }
            }
            sl_pbuf_put(&out, "\n", 1);
            res->n_rows_out++;
        }
        sodium_memzero(&rng, sizeof rng);
        if (st == SL_OK && out.oom) st = sl_set_error(SL_ERR_NOMEM, "release: out of memory");
    }
    /* 4. hashes, temp file, charge, rename */
    char in_sha[65] = "";
    unsigned char h[crypto_hash_sha256_BYTES];
    if (st == SL_OK && in_path) st = sl_sha256_file(in_path, in_sha);
    if (st == SL_OK) {
        crypto_hash_sha256(h, (const unsigned char *)out.p, out.len);
        sodium_bin2hex(res->out_sha256, sizeof res->out_sha256, h, sizeof h);
        params_txt = cJSON_PrintUnformatted(params);
        if (asprintf(&tmp, "%s.tmp.%ld", out_path, (long)getpid()) < 0) tmp = NULL;
        if (!params_txt || !tmp) st = sl_set_error(SL_ERR_NOMEM, "release: out of memory");
    }
    if (st == SL_OK) st = write_temp(tmp, out.p, out.len);
    if (st == SL_OK && o->before_charge) o->before_charge(o->hook_ctx);
    if (st == SL_OK) {
        char abs_out[PATH_MAX];
        const char *outp = out_path;
        if (out_path[0] != '/') {
            char cwd[PATH_MAX];
            if (getcwd(cwd, sizeof cwd) &&
                (size_t)snprintf(abs_out, sizeof abs_out, "%s/%s", cwd, out_path) < sizeof abs_out)
                outp = abs_out;
        }
        char abs_tmp[PATH_MAX + 32];
        snprintf(abs_tmp, sizeof abs_tmp, "%s.tmp.%ld", outp, (long)getpid());
        const char *actor = o->actor ? o->actor : getenv("USER");
        sl_ledger_release rel = {0};
        rel.run_id = o->run_id;
        rel.now = o->now > 0 ? o->now : clock_now();
        rel.actor = actor && *actor ? actor : "unknown";
        rel.technique = sl_technique_name(o->technique);
        rel.dataset = s->dataset;
        rel.input_path = in_path;
        rel.input_sha256 = in_path ? in_sha : NULL;
        rel.output_path = outp;
        rel.output_sha256 = res->out_sha256;
        rel.tmp_path = abs_tmp;
        rel.params_json = params_txt;
        rel.epsilon = eps_charge;
        rel.delta = formal ? o->delta : 0;
        rel.rho = rho_total;
        rel.formal = formal;
        rel.n_rows = (int64_t)res->n_rows_out;
        rel.subjects = (const char *const *)subj;
        /* DP: a subject with m released records loses m * epsilon (group privacy); the
         * accounting profile is charged once per subject */
        rel.subject_rows = formal && o->technique == SL_TECH_DP ? rows_of : NULL;
        rel.n_subjects = n_subj;
        /* aggregates are statistics, not training rows: not in the pool */
        rel.pool_source = o->technique == SL_TECH_AGGREGATE ? NULL : sl_technique_name(o->technique);
        rel.pool_days = o->pool_days;
        st = sl_ledger_record(reg, &rel, &def, &res->log_id);
        if (st == SL_OK && o->after_charge) o->after_charge(o->hook_ctx);
        if (st != SL_OK) {
            unlink(tmp);
        } else if (rename(tmp, out_path) != 0) {
            int e = errno;
            /* the charge stays (over-charging is safe); the row says what happened */
            sl_ledger_set_status(reg, res->log_id, "orphaned");
            unlink(tmp);
            st = sl_set_error(SL_ERR_IO, "%s: rename failed after the charge was recorded: %s",
                              out_path, strerror(e));
        } else {
            fsync_dir(out_path);
            st = sl_ledger_set_status(reg, res->log_id, "placed");
        }
    }
    if (st == SL_OK) {
        res->epsilon_charged = eps_charge;
        res->max_subject_epsilon = eps_charge;
        for (size_t i = 0; o->technique == SL_TECH_DP && i < n_subj; i++)
            if ((double)rows_of[i] * eps_charge > res->max_subject_epsilon)
                res->max_subject_epsilon = (double)rows_of[i] * eps_charge;
        res->formal = formal;
        res->n_subjects = n_subj;
        if (kr) res->kanon = kr->rep;
    }
    free(tmp);
    free(params_txt);
    free(subj);
    free(rows_of);
    free(out.p);
    cJSON_Delete(params);
    cJSON_Delete(cols_json);
    plans_free(plan, t->n_cols);
    sl_kanon_result_free(kr);
    return st;
}

/* --- recovery and retention ------------------------------------------------------------------ */

static int pid_gone(int64_t pid) {
    if (pid <= 0 || pid > INT_MAX) return 1;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

sl_status sl_privacy_recover(sl_registry *reg, int *n_completed) {
    if (n_completed) *n_completed = 0;
    if (!reg) return SL_OK;
    sl_ledger_pending *p = NULL;
    size_t n = 0;
    SL_TRY(sl_ledger_list_pending(reg, &p, &n));
    char host[256] = "unknown";
    gethostname(host, sizeof host - 1);
    sl_status st = SL_OK;
    for (size_t i = 0; i < n && st == SL_OK; i++) {
        if (strcmp(p[i].host, host) != 0 || !pid_gone(p[i].pid)) continue;
        char sha[65] = "";
        const char *status = "orphaned";
        if (access(p[i].tmp_path, F_OK) == 0) {
            if (sl_sha256_file(p[i].tmp_path, sha) == SL_OK && strcmp(sha, p[i].output_sha256) == 0 &&
                rename(p[i].tmp_path, p[i].output_path) == 0) {
                fsync_dir(p[i].output_path);
                status = "placed";
            } else {
                unlink(p[i].tmp_path);
            }
        } else if (sl_sha256_file(p[i].output_path, sha) == SL_OK &&
                   strcmp(sha, p[i].output_sha256) == 0) {
            status = "placed"; /* renamed, killed before the status update */
        }
        sl_clear_error();
        st = sl_ledger_set_status(reg, p[i].id, status);
        if (st == SL_OK && strcmp(status, "placed") == 0 && n_completed) (*n_completed)++;
    }
    sl_ledger_pending_free(p, n);
    return st;
}

sl_status sl_privacy_retention(sl_registry *reg, int64_t now, int dry_run, const char *actor,
                               size_t *n_deleted) {
    *n_deleted = 0;
    if (!reg) return sl_set_error(SL_ERR_ARG, "retention: needs a registry");
    if (now <= 0) now = clock_now();
    sl_pool_row *rows = NULL;
    size_t n = 0;
    SL_TRY(sl_pool_list_expired(reg, now, &rows, &n));
    sl_status st = SL_OK;
    const char *who = actor ? actor : getenv("USER");
    for (size_t i = 0; i < n && st == SL_OK; i++) {
        if (dry_run) {
            (*n_deleted)++;
            continue;
        }
        if (unlink(rows[i].path) != 0 && errno != ENOENT) {
            st = sl_set_error(SL_ERR_IO, "retention: cannot delete %s: %s", rows[i].path,
                              strerror(errno));
            break;
        }
        st = sl_pool_mark_deleted(reg, rows[i].id, now, who && *who ? who : "unknown");
        if (st == SL_OK) (*n_deleted)++;
    }
    sl_pool_rows_free(rows, n);
    return st;
}
