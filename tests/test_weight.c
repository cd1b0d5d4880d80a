/* SPDX-License-Identifier: Apache-2.0 */
/* test_weight.c - the SyntheticWeightController: seed 002's safety invariants as property
 * tests over 100,000 random calls, the econ model's monotonicity, float64 finite-difference
 * gradient checks of both learned models, training on synthetic outcomes, phases, budget
 * arithmetic, logging, and the JSON files.
 */
#include "harness.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_weight.h"

#define DNAN ((double)NAN)

/* --- helpers -------------------------------------------------------------- */

static void random_econ(sl_rng *r, sl_econ_model *m, double sd) {
    sl_econ_model_init(m, 8);
    for (int k = 0; k < SL_ECON_P_BRICK + m->n_bricks; k++) m->params[k] = sd * sl_rng_normal(r);
    for (int k = 0; k < 4; k++) m->scale[k] = 0.5 + sl_rng_uniform(r);
    m->n_train = 100;
}

static void random_lambda(sl_rng *r, sl_lambda_model *m, double sd) {
    sl_lambda_model_init(m);
    for (int k = 0; k < SL_LAMBDA_NPARAMS; k++) m->params[k] = sd * sl_rng_normal(r);
    m->n_train = 100;
}

static void random_context(sl_rng *r, sl_weight_context *c) {
    for (int j = 0; j < SL_OBJ_COUNT; j++) c->objective[j] = sl_rng_uniform(r);
    c->baseline_mpl = 15 + 5 * sl_rng_uniform(r);
    c->baseline_error = 0.3 + 0.2 * sl_rng_uniform(r);
    c->baseline_ep = 2 + sl_rng_uniform(r);
    c->current_mpl = c->baseline_mpl * (0.8 + 0.4 * sl_rng_uniform(r));
    c->current_error = c->baseline_error * (0.8 + 0.4 * sl_rng_uniform(r));
    c->current_ep = c->baseline_ep * (0.8 + 0.4 * sl_rng_uniform(r));
    c->training_progress = sl_rng_uniform(r);
    c->max_synth_share = 0.05 + 0.9 * sl_rng_uniform(r);
    c->real_rows = sl_rng_uniform(r) < 0.2 ? 0.0 : 100.0 * exp(6.0 * sl_rng_uniform(r));
}

/* log sink that counts lines per call and optionally keeps them */
typedef struct {
    size_t lines, call_lines, sample_lines, errors;
    int keep;
    char **kept;
    size_t nkept, capkept;
} log_sink;

static sl_status sink_fn(void *ctx, const char *line) {
    log_sink *s = ctx;
    s->lines++;
    if (strncmp(line, "{\"type\":\"weight_call\"", 21) == 0) s->call_lines++;
    else if (strncmp(line, "{\"type\":\"weight_sample\"", 23) == 0) s->sample_lines++;
    if (strstr(line, "\"status\":\"error\"")) s->errors++;
    if (s->keep) {
        if (s->nkept == s->capkept) {
            s->capkept = s->capkept ? 2 * s->capkept : 64;
            s->kept = realloc(s->kept, s->capkept * sizeof *s->kept);
        }
        s->kept[s->nkept++] = strdup(line);
    }
    return SL_OK;
}

static void sink_clear(log_sink *s) {
    for (size_t i = 0; i < s->nkept; i++) free(s->kept[i]);
    s->nkept = 0;
    s->lines = s->call_lines = s->sample_lines = s->errors = 0;
}

/* --- learned components --------------------------------------------------- */

TEST(econ_model_is_monotone_on_random_inputs) {
    sl_rng r;
    sl_rng_seed(&r, 1, 0);
    int bad = 0, outside = 0;
    for (int it = 0; it < 20000; it++) {
        sl_econ_model m;
        if (it % 100 == 0) random_econ(&r, &m, 3.0);
        else random_econ(&r, &m, 1.0);
        double o[4];
        for (int j = 0; j < 4; j++) o[j] = 2 * sl_rng_uniform(&r) - 0.5;
        double d[4];
        for (int k = 0; k < 4; k++) d[k] = 3 * sl_rng_normal(&r);
        int brick = (int)sl_rng_below(&r, 12) - 2;
        double e0, e1;
        CHECK_OK(sl_econ_model_eval(&m, d[0], d[1], d[2], d[3], brick, o, &e0));
        outside += !(e0 >= 0.0 && e0 <= 1.0);
        int k = (int)sl_rng_below(&r, 3);
        double step = fabs(sl_rng_normal(&r)) + 1e-3;
        double dd[4] = {d[0], d[1], d[2], d[3]};
        dd[k] += step;
        CHECK_OK(sl_econ_model_eval(&m, dd[0], dd[1], dd[2], dd[3], brick, o, &e1));
        if (k == 1 ? e1 > e0 : e1 < e0) bad++; /* error up => econ must not rise */
    }
    CHECK_MSG(bad == 0, "%d monotonicity violations", bad);
    CHECK(outside == 0);
    /* strict direction for a default-initialised model */
    sl_econ_model m;
    sl_econ_model_init(&m, 0);
    double o[4] = {0.25, 0.25, 0.25, 0.25}, a, b, e;
    CHECK_OK(sl_econ_model_eval(&m, 0, 0, 0, 0, 0, o, &a));
    CHECK_CLOSE(a, 0.5, 1e-15);
    CHECK_OK(sl_econ_model_eval(&m, 1, 0, 0, 0, 0, o, &b));
    CHECK(b > a);
    CHECK_OK(sl_econ_model_eval(&m, 0, 1, 0, 0, 0, o, &e));
    CHECK(e < a);
    CHECK_STATUS(sl_econ_model_eval(&m, DNAN, 0, 0, 0, 0, o, &e), SL_ERR_NAN);
}

static void make_econ_records(sl_rng *r, sl_econ_record *rec, size_t n, int soft) {
    /* ground truth: p = sigmoid(1.5 mpl - 2 err + 0.7 ep + 0.3 nov + brick offset) */
    const double off[4] = {-0.5, 0.0, 0.4, 1.0};
    for (size_t i = 0; i < n; i++) {
        sl_econ_record *e = &rec[i];
        e->delta_mpl = sl_rng_normal(r);
        e->delta_error = sl_rng_normal(r);
        e->delta_ep = sl_rng_normal(r);
        e->novelty = sl_rng_uniform(r);
        e->brick_id = (int)sl_rng_below(r, 4);
        for (int j = 0; j < 4; j++) e->objective[j] = sl_rng_uniform(r);
        double z = 1.5 * e->delta_mpl - 2.0 * e->delta_error + 0.7 * e->delta_ep +
                   0.3 * e->novelty + off[e->brick_id];
        double p = 1.0 / (1.0 + exp(-z));
        e->outcome = soft ? p : (double)(sl_rng_uniform(r) < p);
    }
}

TEST(econ_gradient_matches_finite_differences) {
    sl_rng r;
    sl_rng_seed(&r, 2, 0);
    sl_econ_record rec[40];
    make_econ_records(&r, rec, 40, 1);
    rec[3].brick_id = -1; /* no-brick path */
    for (int trial = 0; trial < 5; trial++) {
        sl_econ_model m;
        random_econ(&r, &m, 0.7);
        m.n_bricks = 4;
        double g[SL_ECON_NPARAMS], L;
        CHECK_OK(sl_econ_loss_grad(&m, rec, 40, 1e-2, &L, g));
        int np = SL_ECON_P_BRICK + m.n_bricks, worst = -1;
        double maxerr = 0;
        for (int k = 0; k < np; k++) {
            double h = 1e-6, save = m.params[k], lp, lm;
            m.params[k] = save + h;
            CHECK_OK(sl_econ_loss_grad(&m, rec, 40, 1e-2, &lp, NULL));
            m.params[k] = save - h;
            CHECK_OK(sl_econ_loss_grad(&m, rec, 40, 1e-2, &lm, NULL));
            m.params[k] = save;
            double fd = (lp - lm) / (2 * h), err = fabs(fd - g[k]) / fmax(1e-3, fabs(fd));
            if (err > maxerr) {
                maxerr = err;
                worst = k;
            }
        }
        CHECK_MSG(maxerr < 1e-6, "trial %d: worst param %d rel err %g", trial, worst, maxerr);
    }
}

static void make_lambda_records(sl_rng *r, sl_lambda_record *rec, size_t n) {
    /* ground truth: best share = max * sigmoid(3 rel_mpl - 1 + 1.5 progress - objective_nov) */
    for (size_t i = 0; i < n; i++) {
        random_context(r, &rec[i].ctx);
        double f[SL_LAMBDA_NFEAT];
        sl_lambda_features(&rec[i].ctx, f);
        double z = 3 * f[4] - 1 + 1.5 * f[7] - f[3];
        rec[i].share = rec[i].ctx.max_synth_share / (1 + exp(-z));
        rec[i].reward = 0.5 + sl_rng_uniform(r);
    }
}

TEST(lambda_gradient_matches_finite_differences) {
    sl_rng r;
    sl_rng_seed(&r, 3, 0);
    sl_lambda_record rec[30];
    make_lambda_records(&r, rec, 30);
    for (int trial = 0; trial < 5; trial++) {
        sl_lambda_model m;
        random_lambda(&r, &m, 1.0);
        double g[SL_LAMBDA_NPARAMS], L;
        CHECK_OK(sl_lambda_loss_grad(&m, rec, 30, 1e-2, &L, g));
        double maxerr = 0;
        for (int k = 0; k < SL_LAMBDA_NPARAMS; k++) {
            double h = 1e-6, save = m.params[k], lp, lm;
            m.params[k] = save + h;
            CHECK_OK(sl_lambda_loss_grad(&m, rec, 30, 1e-2, &lp, NULL));
            m.params[k] = save - h;
            CHECK_OK(sl_lambda_loss_grad(&m, rec, 30, 1e-2, &lm, NULL));
            m.params[k] = save;
            double fd = (lp - lm) / (2 * h);
            maxerr = fmax(maxerr, fabs(fd - g[k]) / fmax(1e-4, fabs(fd)));
        }
        CHECK_MSG(maxerr < 1e-6, "trial %d: rel err %g", trial, maxerr);
    }
}

TEST(training_reduces_loss_and_recovers_monotone_relation) {
    sl_rng r;
    sl_rng_seed(&r, 4, 0);
    size_t n = 400;
    sl_econ_record *rec = malloc(n * sizeof *rec), test[200];
    make_econ_records(&r, rec, n, 1);
    make_econ_records(&r, test, 200, 1);
    sl_econ_model m;
    double before, after;
    sl_weight_train_cfg cfg = sl_weight_train_cfg_default();
    cfg.steps = 1500;
    CHECK_OK(sl_econ_model_train(&m, rec, n, &cfg, &before, &after));
    /* soft targets: the loss floor is their mean entropy; most of the excess must go */
    double H = 0;
    for (size_t i = 0; i < n; i++) {
        double p = rec[i].outcome;
        H -= (p * log(p) + (1 - p) * log1p(-p)) / (double)n;
    }
    CHECK_MSG(after - H < 0.05 * (before - H), "loss %g -> %g (floor %g)", before, after, H);
    CHECK(m.n_train == n && m.n_bricks == 4);
    /* held-out: predictions match the true probabilities */
    double maxerr = 0;
    for (int i = 0; i < 200; i++) {
        double e;
        CHECK_OK(sl_econ_model_eval(&m, test[i].delta_mpl, test[i].delta_error,
                                    test[i].delta_ep, test[i].novelty, test[i].brick_id,
                                    test[i].objective, &e));
        maxerr = fmax(maxerr, fabs(e - test[i].outcome));
    }
    CHECK_MSG(maxerr < 0.06, "max |econ - p| on held-out = %g", maxerr);
    /* recovered effective coefficients (per unit of raw delta) at objective 0 */
    double o0[4] = {0, 0, 0, 0};
    double cm = log1p(exp(m.params[SL_ECON_P_U + 0])) / m.scale[0];
    double ce = log1p(exp(m.params[SL_ECON_P_U + 1])) / m.scale[1];
    double cp = log1p(exp(m.params[SL_ECON_P_U + 2])) / m.scale[2];
    CHECK_MSG(fabs(cm - 1.5) < 0.3 && fabs(ce - 2.0) < 0.4 && fabs(cp - 0.7) < 0.2,
              "coefficients %g %g %g (want 1.5 2.0 0.7)", cm, ce, cp);
    /* brick ordering recovered */
    double eb[4];
    for (int b = 0; b < 4; b++) CHECK_OK(sl_econ_model_eval(&m, 0, 0, 0, 0, b, o0, &eb[b]));
    CHECK(eb[0] < eb[1] && eb[1] < eb[2] && eb[2] < eb[3]);
    /* deterministic: same records => same bits */
    sl_econ_model m2;
    CHECK_OK(sl_econ_model_train(&m2, rec, n, &cfg, NULL, NULL));
    CHECK(memcmp(m.params, m2.params, sizeof m.params) == 0);
    free(rec);

    /* lambda controller */
    sl_lambda_record lr[300];
    make_lambda_records(&r, lr, 300);
    sl_lambda_model lm;
    CHECK_OK(sl_lambda_model_train(&lm, lr, 300, &cfg, &before, &after));
    CHECK_MSG(after < 0.2 * before, "lambda loss %g -> %g", before, after);
    double lmax = 0;
    for (int i = 0; i < 300; i++) {
        double l;
        CHECK_OK(sl_lambda_model_eval(&lm, &lr[i].ctx, &l));
        lmax = fmax(lmax, fabs(l - lr[i].share));
        CHECK(l >= 0 && l <= lr[i].ctx.max_synth_share);
    }
    CHECK_MSG(lmax < 0.05, "max |lambda - best share| = %g", lmax);
    CHECK(lm.params[4] > 1.0); /* rel_mpl coefficient recovered with its sign */
}

/* --- files ------------------------------------------------------------------ */

TEST(models_and_records_roundtrip_and_errors) {
    sl_rng r;
    sl_rng_seed(&r, 5, 0);
    sl_econ_model m, m2;
    random_econ(&r, &m, 1.3);
    sl_lambda_model l, l2;
    random_lambda(&r, &l, 1.3);
    char pe[700], pl[700], pr[700];
    snprintf(pe, sizeof pe, "%s/econ.json", harness_tmpdir());
    snprintf(pl, sizeof pl, "%s/lambda.json", harness_tmpdir());
    snprintf(pr, sizeof pr, "%s/records.jsonl", harness_tmpdir());
    CHECK_OK(sl_econ_model_save(&m, pe));
    CHECK_OK(sl_econ_model_load(&m2, pe));
    CHECK(memcmp(m.params, m2.params, sizeof m.params) == 0);
    CHECK(memcmp(m.scale, m2.scale, sizeof m.scale) == 0);
    CHECK(m2.n_train == m.n_train && m2.n_bricks == m.n_bricks);
    CHECK_OK(sl_lambda_model_save(&l, pl));
    CHECK_OK(sl_lambda_model_load(&l2, pl));
    CHECK(memcmp(l.params, l2.params, sizeof l.params) == 0 && l2.n_train == l.n_train);

    sl_econ_record er[25];
    sl_lambda_record lr[7];
    make_econ_records(&r, er, 25, 0);
    make_lambda_records(&r, lr, 7);
    FILE *fp = fopen(pr, "w");
    CHECK(fp != NULL);
    if (!fp) return;
    for (int i = 0; i < 25; i++) {
        CHECK_OK(sl_econ_record_write(fp, &er[i]));
        if (i < 7) CHECK_OK(sl_lambda_record_write(fp, &lr[i]));
    }
    fputs("\n{\"type\":\"something_else\",\"x\":1}\n", fp);
    fclose(fp);
    sl_econ_record *E = NULL;
    sl_lambda_record *L = NULL;
    size_t ne = 0, nl = 0;
    CHECK_OK(sl_weight_records_read(pr, &E, &ne, &L, &nl));
    CHECK(ne == 25 && nl == 7);
    if (ne == 25 && nl == 7) {
        /* field by field (a memcmp of the structs would read their padding) */
        int same = 1;
        for (int i = 0; i < 25; i++) {
            same &= E[i].delta_mpl == er[i].delta_mpl && E[i].delta_error == er[i].delta_error &&
                    E[i].delta_ep == er[i].delta_ep && E[i].novelty == er[i].novelty &&
                    E[i].brick_id == er[i].brick_id && E[i].outcome == er[i].outcome;
            for (int k = 0; k < SL_OBJ_COUNT; k++) same &= E[i].objective[k] == er[i].objective[k];
        }
        CHECK_MSG(same, "econ records changed in the JSON-lines round trip");
        CHECK(L[6].share == lr[6].share && L[6].reward == lr[6].reward &&
              L[6].ctx.current_mpl == lr[6].ctx.current_mpl);
    }
    free(E);
    free(L);

    /* errors name the line and the key */
    fp = fopen(pr, "w");
    fputs("{\"type\":\"econ_outcome\",\"delta_mpl\":1,\"delta_error\":0,\"delta_ep\":0,"
          "\"novelty\":0,\"brick\":1,\"objective\":[1,0,0,0],\"outcome\":0.5}\n",
          fp);
    fputs("{\"type\":\"econ_outcome\",\"delta_mpl\":1,\"delta_error\":0,\"delta_ep\":0,"
          "\"novelty\":0,\"brick\":1,\"objective\":[1,0,0,0],\"outcome\":1.5}\n",
          fp);
    fclose(fp);
    CHECK_STATUS(sl_weight_records_read(pr, &E, &ne, NULL, NULL), SL_ERR_RANGE);
    CHECK(strstr(sl_last_error(), ":2:") && strstr(sl_last_error(), "outcome"));
    CHECK_OK(sl_write_file_atomic(pe, "{\"format\":\"synthloop.econ_model\",\"version\":1}", 45));
    CHECK_STATUS(sl_econ_model_load(&m2, pe), SL_ERR_FORMAT);
    CHECK(strstr(sl_last_error(), "n_train") != NULL);
}

/* --- controller: examples ---------------------------------------------------- */

static sl_weight_sample plain_sample(double trust) {
    sl_weight_sample s;
    memset(&s, 0, sizeof s);
    s.trust = trust;
    s.brick_id = 0;
    return s;
}

TEST(phase1_budget_arithmetic_and_rails) {
    sl_weight_ctrl *c;
    CHECK_OK(sl_weight_ctrl_new(&c));
    if (!c) return;
    sl_weight_global g = sl_weight_global_default();
    g.real_weight = 100;
    g.target_synth_share = 0.2;
    g.min_trust = 0.9;
    sl_weight_sample s[50];
    sl_weight_out o[50];
    sl_weight_result res;
    for (int i = 0; i < 50; i++) s[i] = plain_sample(1.0);
    CHECK_OK(sl_weight_ctrl_compute(c, &g, s, 50, o, &res));
    CHECK(res.phase == 1 && strstr(res.phase_reason, "no econ model"));
    CHECK_CLOSE(res.target_synth_weight, 25.0, 1e-12);
    for (int i = 0; i < 50; i++) CHECK_CLOSE(o[i].w_final, 0.5, 1e-12);
    CHECK_CLOSE(res.effective_share, 0.2, 1e-12);
    CHECK(res.budget_reached && o[0].econ_component == 1.0 && o[0].lambda_component == 0.2);

    /* trust exactly at the floor passes; just below is rejected; proportional to trust */
    s[0] = plain_sample(0.9);
    s[1] = plain_sample(nextafter(0.9, 0.0));
    s[2] = plain_sample(0.95);
    g.real_weight = 1; /* W* = 0.25: no sample reaches the cap of 1 */
    CHECK_OK(sl_weight_ctrl_compute(c, &g, s, 3, o, &res));
    CHECK(o[0].w_final > 0 && o[1].w_final == 0 && (o[1].flags & (1u << SL_RAIL_TRUST_FLOOR)));
    CHECK(res.n_passed == 2 && res.n_rejected_trust == 1);
    CHECK_CLOSE(o[0].w_final / o[2].w_final, 0.9 / 0.95, 1e-12);

    /* budget not reachable: W* = 1000*0.4/0.6 > 10 samples at the cap of 1 */
    g.real_weight = 1000;
    g.target_synth_share = 0.7; /* above the max share: lambda cap */
    for (int i = 0; i < 10; i++) s[i] = plain_sample(0.9 + 0.01 * i);
    CHECK_OK(sl_weight_ctrl_compute(c, &g, s, 10, o, &res));
    CHECK(res.lambda == 0.4 && (res.rails & (1u << SL_RAIL_LAMBDA_CAP)));
    CHECK(!res.budget_reached && (res.rails & (1u << SL_RAIL_BUDGET_SHORT)));
    for (int i = 0; i < 10; i++) CHECK(o[i].w_final == 1.0);
    CHECK(res.rail_counts[SL_RAIL_WEIGHT_CAP] == 10);

    /* water-filling: one high-quality sample saturates, the rest share the remainder */
    g.real_weight = 30;
    g.target_synth_share = 0.25; /* W* = 10 */
    g.min_trust = 0.0;
    s[0] = plain_sample(1.0);
    for (int i = 1; i < 20; i++) s[i] = plain_sample(0.05);
    CHECK_OK(sl_weight_ctrl_compute(c, &g, s, 20, o, &res));
    CHECK(o[0].w_final == 1.0);
    CHECK_CLOSE(o[1].w_final, 9.0 / 19.0, 1e-12);
    CHECK(res.budget_reached);

    /* no real weight: nothing synthetic allowed */
    g.real_weight = 0;
    CHECK_OK(sl_weight_ctrl_compute(c, &g, s, 20, o, &res));
    for (int i = 0; i < 20; i++) CHECK(o[i].w_final == 0.0);
    CHECK(res.effective_share == 0.0 && (res.rails & (1u << SL_RAIL_NO_REAL_WEIGHT)));

    /* invalid global input fails the call */
    g.real_weight = 10;
    g.ctx.max_synth_share = 1.0;
    CHECK_STATUS(sl_weight_ctrl_compute(c, &g, s, 20, o, &res), SL_ERR_ARG);
    g.ctx.max_synth_share = 0.4;
    g.min_trust = DNAN;
    CHECK_STATUS(sl_weight_ctrl_compute(c, &g, s, 20, o, &res), SL_ERR_NAN);
    CHECK(strstr(sl_last_error(), "min_trust") != NULL);
    sl_weight_ctrl_free(c);
    sl_weight_ctrl_free(NULL);
}

TEST(phases_follow_outcome_counts_and_models_drive_phase2) {
    sl_rng r;
    sl_rng_seed(&r, 6, 0);
    sl_weight_ctrl *c;
    CHECK_OK(sl_weight_ctrl_new(&c));
    if (!c) return;
    sl_econ_model em;
    sl_lambda_model lm;
    random_econ(&r, &em, 1.0);
    random_lambda(&r, &lm, 1.0);
    em.n_train = 19;
    lm.n_train = 50;
    sl_weight_ctrl_set_econ_model(c, &em);
    sl_weight_ctrl_set_lambda_model(c, &lm);
    sl_weight_global g = sl_weight_global_default();
    random_context(&r, &g.ctx);
    g.ctx.max_synth_share = 0.4;
    g.real_weight = 2; /* W* <= 4/3 over 6 samples: no weight at the cap */
    g.min_trust = 0.5;
    sl_weight_sample s[6];
    sl_weight_out o[6], o2[6];
    sl_weight_result res, res2;
    for (int i = 0; i < 6; i++) {
        s[i] = plain_sample(0.6 + 0.05 * i);
        s[i].delta_mpl = i - 2.5;
        s[i].delta_error = 0.1 * i;
        s[i].brick_id = i;
    }
    CHECK_OK(sl_weight_ctrl_compute(c, &g, s, 6, o, &res));
    CHECK(res.phase == 1 && strstr(res.phase_reason, "econ model trained on fewer"));
    CHECK(res.lambda == g.target_synth_share && o[3].econ_component == 1.0);
    em.n_train = 20;
    sl_weight_ctrl_set_econ_model(c, &em);
    CHECK_OK(sl_weight_ctrl_compute(c, &g, s, 6, o, &res));
    CHECK(res.phase == 2);
    double want_l, want_e;
    CHECK_OK(sl_lambda_model_eval(&lm, &g.ctx, &want_l));
    CHECK(res.lambda_prediction == want_l && res.lambda == want_l);
    CHECK_OK(sl_econ_model_eval(&em, s[3].delta_mpl, s[3].delta_error, s[3].delta_ep,
                                s[3].novelty, 3, g.ctx.objective, &want_e));
    CHECK(o[3].econ_component == want_e);
    /* changing the econ model's parameters changes the weights */
    em.params[SL_ECON_P_U] += 1.0;
    sl_weight_ctrl_set_econ_model(c, &em);
    CHECK_OK(sl_weight_ctrl_compute(c, &g, s, 6, o2, &res2));
    int diff = 0;
    for (int i = 0; i < 6; i++) diff += o2[i].w_final != o[i].w_final;
    CHECK(diff > 0);
    /* and so does the lambda controller's */
    lm.params[SL_LAMBDA_NFEAT] += 0.5;
    sl_weight_ctrl_set_lambda_model(c, &lm);
    CHECK_OK(sl_weight_ctrl_compute(c, &g, s, 6, o, &res));
    CHECK(res.lambda != res2.lambda && res.synth_weight != res2.synth_weight);
    sl_weight_ctrl_set_min_outcomes(c, 1000);
    CHECK_OK(sl_weight_ctrl_compute(c, &g, s, 6, o, &res));
    CHECK(res.phase == 1);
    sl_weight_ctrl_free(c);
}

TEST(log_records_to_path_and_file) {
    sl_weight_ctrl *c;
    CHECK_OK(sl_weight_ctrl_new(&c));
    if (!c) return;
    char path[700];
    snprintf(path, sizeof path, "%s/weights.jsonl", harness_tmpdir());
    CHECK_OK(sl_weight_ctrl_set_log_path(c, path));
    sl_weight_global g = sl_weight_global_default();
    g.real_weight = 10;
    sl_weight_sample s[3] = {plain_sample(0.95), plain_sample(0.2), plain_sample(DNAN)};
    float states[4] = {0, 1, 2, 3};
    s[0].branch_states = states;
    s[0].states_rows = 2;
    s[0].states_dim = 2;
    s[0].source_episode = 7;
    s[0].source_timestep = 12;
    sl_weight_out o[3];
    sl_weight_result res;
    CHECK_OK(sl_weight_ctrl_compute(c, &g, s, 3, o, &res));
    g.real_weight = -1;
    CHECK_STATUS(sl_weight_ctrl_compute(c, &g, s, 3, o, &res), SL_ERR_ARG);
    sl_weight_ctrl_free(c); /* closes the file */
    char *text;
    size_t len;
    CHECK_OK(sl_read_file(path, &text, &len));
    if (!text) return;
    int lines = 0;
    char *save = NULL;
    for (char *ln = strtok_r(text, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
        cJSON *j = cJSON_Parse(ln);
        CHECK_MSG(j != NULL, "line %d is not JSON: %s", lines + 1, ln);
        CHECK(strstr(ln, "nan") == NULL && strstr(ln, "inf") == NULL);
        if (lines == 0) {
            CHECK(strcmp(sl_json_str(j, "type", ""), "weight_call") == 0);
            CHECK(sl_json_int(j, "phase", 0) == 1 && sl_json_int(j, "n_invalid", 0) == 1);
            CHECK(sl_json_num(j, "effective_share", -1) == res.effective_share ||
                  sl_json_num(j, "effective_share", -1) > 0);
            cJSON *rails = cJSON_GetObjectItem(j, "rails");
            CHECK(sl_json_int(rails, "trust_floor", -1) == 1);
        }
        if (lines == 1) {
            CHECK(sl_json_int(j, "episode", 0) == 7 && sl_json_int(j, "horizon", 0) == 1);
            CHECK(sl_json_num(j, "w", -1) == o[0].w_final);
        }
        if (lines == 3) CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "trust_in")));
        if (lines == 4) CHECK(strcmp(sl_json_str(j, "status", ""), "error") == 0);
        cJSON_Delete(j);
        lines++;
    }
    CHECK(lines == 5);
    free(text);
}

/* --- controller: property tests ---------------------------------------------- */

static double pick_trust(sl_rng *r, double floor_) {
    double u = sl_rng_uniform(r);
    if (u < 0.10) return floor_;
    if (u < 0.15) return 0.0;
    if (u < 0.25) return 1.0;
    if (u < 0.27) return DNAN;
    if (u < 0.28) return 1.0 + 1e-9;
    if (u < 0.29) return -1e-9;
    if (u < 0.30) return nextafter(floor_, 0.0);
    return sl_rng_uniform(r);
}

static double pick_delta(sl_rng *r) {
    double u = sl_rng_uniform(r);
    if (u < 0.01) return DNAN;
    if (u < 0.02) return 1e300 * (sl_rng_uniform(r) < 0.5 ? -1 : 1);
    if (u < 0.03) return (double)INFINITY;
    return 2 * sl_rng_normal(r);
}

/* Shared by the generator-rail tests: a random batch of trust-only samples (1..max), and the
 * tally of one call against its rail-free reference: the rail must fire exactly when `fire`,
 * a fired call must leave no synthetic weight, a call it spares must give the reference's
 * weights bit for bit. */
typedef struct {
    long v_fire, v_zero, v_same, fired, kept;
} rail_tally;

static size_t random_trust_batch(sl_rng *r, sl_weight_sample *s, size_t max) {
    size_t n = 1 + (size_t)sl_rng_below(r, max);
    for (size_t i = 0; i < n; i++) {
        memset(&s[i], 0, sizeof s[i]);
        s[i].trust = sl_rng_uniform(r);
        s[i].brick_id = -1;
    }
    return n;
}

static void tally_rail(rail_tally *t, int fire, sl_weight_rail rail, const sl_weight_result *res,
                       const sl_weight_out *o, const sl_weight_out *o_ref, size_t n) {
    if (fire != !!(res->rails & (1u << rail))) t->v_fire++;
    if (fire) {
        t->fired++;
        double S = 0;
        for (size_t i = 0; i < n; i++) S += o[i].w_final;
        if (S != 0.0 || res->lambda != 0.0 || res->effective_share != 0.0) t->v_zero++;
    } else {
        t->kept++;
        for (size_t i = 0; i < n; i++)
            if (o[i].w_final != o_ref[i].w_final) t->v_same++;
    }
}

/* The generator rail: a batch whose gate pass rate is below min_pass_rate gets no synthetic
 * weight at all; at or above it, the weights are exactly those of a call without the rail. */
TEST(generator_pass_rate_rail) {
    sl_rng r;
    sl_rng_seed(&r, 17, 0);
    sl_weight_ctrl *c = NULL;
    CHECK_OK(sl_weight_ctrl_new(&c));
    if (!c) return;
    enum { N = 40 };
    sl_weight_sample s[N];
    sl_weight_out o[N], o_ref[N];
    sl_weight_result res, res_ref;
    rail_tally t = {0};
    for (int call = 0; call < 10000; call++) {
        sl_weight_global g = sl_weight_global_default();
        random_context(&r, &g.ctx);
        g.target_synth_share = g.ctx.max_synth_share * sl_rng_uniform(&r);
        g.real_weight = 1 + 100 * sl_rng_uniform(&r);
        g.min_pass_rate = call % 7 == 0 ? 0.0 : sl_rng_uniform(&r) * 0.5;
        /* exactly at the floor sometimes: == passes */
        g.source_pass_rate = call % 5 == 0 ? g.min_pass_rate : sl_rng_uniform(&r);
        size_t n = random_trust_batch(&r, s, N);
        CHECK_OK(sl_weight_ctrl_compute(c, &g, s, n, o, &res));
        sl_weight_global g_ref = g;
        g_ref.source_pass_rate = 1.0;
        CHECK_OK(sl_weight_ctrl_compute(c, &g_ref, s, n, o_ref, &res_ref));
        tally_rail(&t, g.source_pass_rate < g.min_pass_rate, SL_RAIL_LOW_PASS_RATE, &res, o,
                   o_ref, n);
    }
    CHECK_MSG(t.v_fire == 0, "%ld calls where the rail fired wrongly", t.v_fire);
    CHECK_MSG(t.v_zero == 0, "%ld fired calls with synthetic weight left", t.v_zero);
    CHECK_MSG(t.v_same == 0, "%ld weights changed although the rail did not fire", t.v_same);
    CHECK(t.fired > 1000 && t.kept > 1000);
    /* out of range is an argument error, not a silent pass */
    sl_weight_global g = sl_weight_global_default();
    g.real_weight = 10;
    g.source_pass_rate = 1.5;
    CHECK_STATUS(sl_weight_ctrl_compute(c, &g, s, 1, o, &res), SL_ERR_ARG);
    CHECK(strcmp(sl_weight_rail_name(SL_RAIL_LOW_PASS_RATE), "low_pass_rate") == 0);
    sl_weight_ctrl_free(c);
}

/* The certificate rail: a generator whose per-horizon std ratio range leaves the band (or is
 * negative: non-finite evaluation) gets no synthetic weight; inside the band (edges included)
 * the weights are exactly those of a call with a perfect certificate; band 0/0 disables. */
TEST(generator_certificate_rail) {
    sl_rng r;
    sl_rng_seed(&r, 23, 0);
    sl_weight_ctrl *c = NULL;
    CHECK_OK(sl_weight_ctrl_new(&c));
    if (!c) return;
    enum { N = 40 };
    sl_weight_sample s[N];
    sl_weight_out o[N], o_ref[N];
    sl_weight_result res, res_ref;
    rail_tally t = {0};
    for (int call = 0; call < 20000; call++) {
        sl_weight_global g = sl_weight_global_default();
        random_context(&r, &g.ctx);
        g.target_synth_share = g.ctx.max_synth_share * sl_rng_uniform(&r);
        g.real_weight = 1 + 100 * sl_rng_uniform(&r);
        if (call % 11 == 0) g.generator_band_lo = g.generator_band_hi = 0.0; /* disabled */
        double a = 0.6 + 0.8 * sl_rng_uniform(&r), b = 0.6 + 0.8 * sl_rng_uniform(&r);
        switch (call % 6) {
        case 0: a = g.generator_band_lo; b = g.generator_band_hi; break;  /* exactly the edges */
        case 1: a = -1.0; break;                                         /* undefined horizon */
        case 2: a = nextafter(g.generator_band_lo, 0.0); b = 1.0; break;  /* one ulp below */
        case 3: b = nextafter(g.generator_band_hi, 2.0); a = 1.0; break;  /* one ulp above */
        default: break;
        }
        g.source_std_ratio_min = a < b ? a : b;
        g.source_std_ratio_max = a < b ? b : a;
        size_t n = random_trust_batch(&r, s, N);
        CHECK_OK(sl_weight_ctrl_compute(c, &g, s, n, o, &res));
        sl_weight_global g_ref = g;
        g_ref.source_std_ratio_min = g_ref.source_std_ratio_max = 1.0;
        CHECK_OK(sl_weight_ctrl_compute(c, &g_ref, s, n, o_ref, &res_ref));
        int enabled = g.generator_band_hi > 0.0;
        int fire = enabled && (g.source_std_ratio_min < 0.0 ||
                               g.source_std_ratio_min < g.generator_band_lo ||
                               g.source_std_ratio_max > g.generator_band_hi);
        tally_rail(&t, fire, SL_RAIL_UNSTABLE_GENERATOR, &res, o, o_ref, n);
    }
    CHECK_MSG(t.v_fire == 0, "%ld calls where the certificate rail fired wrongly", t.v_fire);
    CHECK_MSG(t.v_zero == 0, "%ld fired calls with synthetic weight left", t.v_zero);
    CHECK_MSG(t.v_same == 0, "%ld weights changed although the rail did not fire", t.v_same);
    CHECK(t.fired > 2000 && t.kept > 2000);
    /* NaN or a reversed range is an argument error, never a silent pass */
    sl_weight_global g = sl_weight_global_default();
    g.real_weight = 10;
    g.source_std_ratio_max = NAN;
    CHECK_STATUS(sl_weight_ctrl_compute(c, &g, s, 1, o, &res), SL_ERR_ARG);
    g = sl_weight_global_default();
    g.real_weight = 10;
    g.source_std_ratio_min = 1.1;
    g.source_std_ratio_max = 0.9;
    CHECK_STATUS(sl_weight_ctrl_compute(c, &g, s, 1, o, &res), SL_ERR_ARG);
    g = sl_weight_global_default();
    g.real_weight = 10;
    g.generator_band_lo = 1.3;
    CHECK_STATUS(sl_weight_ctrl_compute(c, &g, s, 1, o, &res), SL_ERR_ARG);
    CHECK(strcmp(sl_weight_rail_name(SL_RAIL_UNSTABLE_GENERATOR), "unstable_generator") == 0);
    sl_weight_ctrl_free(c);
}

/* The data-size feature: log2(real_rows / 1000), 0 when unknown; version-1 model files (no
 * such feature) load with its weight 0; records without real_rows read as 0. */
TEST(lambda_data_size_feature_and_v1_files) {
    sl_weight_context c = sl_weight_global_default().ctx;
    double f[SL_LAMBDA_NFEAT];
    c.real_rows = 2000;
    CHECK_OK(sl_lambda_features(&c, f));
    CHECK(f[8] == 1.0);
    c.real_rows = 0;
    CHECK_OK(sl_lambda_features(&c, f));
    CHECK(f[8] == 0.0);
    c.real_rows = -1;
    CHECK_STATUS(sl_lambda_features(&c, f), SL_ERR_RANGE);
    char p1[600], pr[600];
    snprintf(p1, sizeof p1, "%s/lambda_v1.json", harness_tmpdir());
    const char *v1 = "{\"format\":\"synthloop.lambda_model\",\"version\":1,\"n_train\":3,"
                     "\"w\":[1,2,3,4,5,6,7,8],\"b\":0.5}";
    CHECK_OK(sl_write_file_atomic(p1, v1, strlen(v1)));
    sl_lambda_model m;
    CHECK_OK(sl_lambda_model_load(&m, p1));
    CHECK(m.params[7] == 8.0 && m.params[8] == 0.0 && m.params[9] == 0.5 && m.n_train == 3);
    const char *v2bad = "{\"format\":\"synthloop.lambda_model\",\"version\":2,\"n_train\":3,"
                        "\"w\":[1,2,3,4,5,6,7,8],\"b\":0.5}";
    CHECK_OK(sl_write_file_atomic(p1, v2bad, strlen(v2bad)));
    CHECK(sl_lambda_model_load(&m, p1) != SL_OK); /* version 2 needs 9 weights */
    snprintf(pr, sizeof pr, "%s/rec_old.jsonl", harness_tmpdir());
    const char *old = "{\"type\":\"lambda_outcome\",\"objective\":[0.25,0.25,0.25,0.25],"
                      "\"current_mpl\":1,\"current_error\":1,\"current_ep\":1,\"baseline_mpl\":1,"
                      "\"baseline_error\":1,\"baseline_ep\":1,\"training_progress\":0,"
                      "\"max_synth_share\":0.4,\"share\":0.1}\n";
    CHECK_OK(sl_write_file_atomic(pr, old, strlen(old)));
    sl_lambda_record *lr = NULL;
    size_t nl = 0;
    CHECK_OK(sl_weight_records_read(pr, NULL, NULL, &lr, &nl));
    CHECK(nl == 1 && lr && lr[0].ctx.real_rows == 0.0 && lr[0].reward == 1.0);
    free(lr);
    /* learnable: rewarded shares 0.3 at 1000 rows and 0 at 4000 rows */
    sl_lambda_record rec[40];
    for (int i = 0; i < 40; i++) {
        rec[i].ctx = sl_weight_global_default().ctx;
        rec[i].ctx.real_rows = i % 2 ? 4000 : 1000;
        rec[i].share = i % 2 ? 0.0 : 0.3;
        rec[i].reward = 1.0;
    }
    sl_lambda_model lm;
    sl_weight_train_cfg tc = sl_weight_train_cfg_default();
    CHECK_OK(sl_lambda_model_train(&lm, rec, 40, &tc, NULL, NULL));
    double a = 0, b = 0;
    CHECK_OK(sl_lambda_model_eval(&lm, &rec[0].ctx, &a));
    CHECK_OK(sl_lambda_model_eval(&lm, &rec[1].ctx, &b));
    CHECK_MSG(a > 0.25 && b < 0.05, "lambda at 1000 rows %g, at 4000 rows %g", a, b);
}

TEST(safety_invariants_hold_on_100k_random_calls) {
    sl_rng r;
    sl_rng_seed(&r, 7, 0);
    sl_weight_ctrl *c1, *c2, *cl, *ce; /* phase 1, phase 2, phase 2 with lambda / econ changed */
    CHECK_OK(sl_weight_ctrl_new(&c1));
    CHECK_OK(sl_weight_ctrl_new(&c2));
    CHECK_OK(sl_weight_ctrl_new(&cl));
    CHECK_OK(sl_weight_ctrl_new(&ce));
    if (!c1 || !c2 || !cl || !ce) return;
    sl_econ_model em, em2;
    sl_lambda_model lm, lm2;
    random_econ(&r, &em, 1.0);
    random_lambda(&r, &lm, 1.0);
    em2 = em;
    lm2 = lm;
    em2.params[SL_ECON_P_U] += 0.7;
    em2.params[SL_ECON_P_B0] -= 0.3;
    lm2.params[SL_LAMBDA_NFEAT] += 0.4;
    sl_weight_ctrl_set_econ_model(c2, &em);
    sl_weight_ctrl_set_lambda_model(c2, &lm);
    sl_weight_ctrl_set_econ_model(cl, &em);
    sl_weight_ctrl_set_lambda_model(cl, &lm2);
    sl_weight_ctrl_set_econ_model(ce, &em2);
    sl_weight_ctrl_set_lambda_model(ce, &lm);
    log_sink sink1 = {0}, sink2 = {0};
    sl_weight_ctrl_set_log_callback(c1, sink_fn, &sink1);
    sl_weight_ctrl_set_log_callback(c2, sink_fn, &sink2);

    enum { MAXN = 32 };
    sl_weight_sample s[MAXN];
    sl_weight_out o[MAXN], o2[MAXN];
    float states[MAXN][6];
    sl_weight_result res, res2;
    long v_nan = 0, v_range = 0, v_share = 0, v_floor = 0, v_trust0 = 0, v_invalid = 0,
         v_log = 0, v_logmatch = 0, v_mono = 0, v_status = 0, v_phase2 = 0, v_lambda_dep = 0,
         v_econ_dep = 0;
    long n_mono = 0, n_lambda_dep = 0, n_econ_dep = 0, n_parsed = 0, n_errors = 0;
    const long CALLS = 100000;
    for (long call = 0; call < CALLS; call++) {
        int phase2 = call & 1;
        sl_weight_ctrl *c = phase2 ? c2 : c1;
        log_sink *sink = phase2 ? &sink2 : &sink1;
        sl_weight_global g = sl_weight_global_default();
        random_context(&r, &g.ctx);
        double u = sl_rng_uniform(&r);
        if (u < 0.02) g.ctx.max_synth_share = 1e-6;
        else if (u < 0.04) g.ctx.max_synth_share = 0.999;
        u = sl_rng_uniform(&r);
        g.target_synth_share = u < 0.15 ? g.ctx.max_synth_share /* lambda at the cap */
                             : u < 0.25 ? 1.5 * g.ctx.max_synth_share
                             : u < 0.30 ? 0.0
                                        : g.ctx.max_synth_share * sl_rng_uniform(&r);
        u = sl_rng_uniform(&r);
        g.min_trust = u < 0.1 ? 0.0 : u < 0.15 ? 1.0 : sl_rng_uniform(&r);
        u = sl_rng_uniform(&r);
        g.econ_weight_cap = u < 0.05 ? 0.0 : u < 0.5 ? 1.0 : sl_rng_uniform(&r);
        u = sl_rng_uniform(&r);
        g.real_weight = u < 0.05 ? 0.0 : u < 0.5 ? 100 * sl_rng_uniform(&r)
                                                 : pow(10.0, sl_rng_uniform_range(&r, -6, 9));
        int bad_global = sl_rng_uniform(&r) < 0.01;
        if (bad_global) g.ctx.current_mpl = DNAN;

        size_t n = sl_rng_uniform(&r) < 0.05 ? 0 : 1 + (size_t)sl_rng_below(&r, MAXN);
        int one_huge = sl_rng_uniform(&r) < 0.05;
        for (size_t i = 0; i < n; i++) {
            memset(&s[i], 0, sizeof s[i]);
            s[i].trust = pick_trust(&r, g.min_trust);
            if (one_huge) s[i].trust = i == 0 ? 1.0 : 1e-9;
            s[i].delta_mpl = pick_delta(&r);
            s[i].delta_error = pick_delta(&r);
            s[i].delta_ep = pick_delta(&r);
            s[i].novelty = sl_rng_uniform(&r);
            s[i].brick_id = (int)sl_rng_below(&r, 80) - 5;
            s[i].source_episode = (int64_t)sl_rng_below(&r, 50);
            s[i].source_timestep = (int64_t)sl_rng_below(&r, 60);
            if (sl_rng_uniform(&r) < 0.1) {
                for (int k = 0; k < 6; k++) states[i][k] = (float)sl_rng_normal(&r);
                if (sl_rng_uniform(&r) < 0.1) states[i][3] = NAN;
                s[i].branch_states = states[i];
                s[i].states_rows = 3;
                s[i].states_dim = 2;
            }
        }
        int keep = call % 97 == 0;
        sink_clear(sink);
        sink->keep = keep;
        sl_status st = sl_weight_ctrl_compute(c, &g, s, n, o, &res);
        if (bad_global) {
            n_errors++;
            if (st != SL_ERR_NAN) v_status++;
            if (sink->call_lines != 1 || sink->errors != 1) v_log++;
            continue;
        }
        if (st != SL_OK) {
            v_status++;
            continue;
        }
        /* (4) every call logs a call record and one record per sample */
        if (sink->call_lines != 1 || sink->sample_lines != n || sink->lines != n + 1) v_log++;
        if (keep && sink->nkept == n + 1) {
            n_parsed++;
            cJSON *j = cJSON_Parse(sink->kept[0]);
            if (!j || (uint64_t)sl_json_num(j, "call", -1) != res.call ||
                sl_json_int(j, "n", -1) != (int)n)
                v_logmatch++;
            cJSON_Delete(j);
            for (size_t i = 0; i < n; i++) {
                j = cJSON_Parse(sink->kept[i + 1]);
                if (!j || sl_json_num(j, "w", -1) != o[i].w_final ||
                    sl_json_num(j, "trust", -1) != o[i].trust_component ||
                    sl_json_num(j, "econ", -1) != o[i].econ_component ||
                    sl_json_num(j, "lambda", -1) != o[i].lambda_component ||
                    sl_json_int(j, "i", -1) != (int)i)
                    v_logmatch++;
                cJSON_Delete(j);
            }
        }
        if (phase2 && res.phase != 2) v_phase2++;
        if (!phase2 && (res.phase != 1 || res.lambda != fmin(g.target_synth_share,
                                                             g.ctx.max_synth_share)))
            v_phase2++;
        double S = 0;
        size_t passed = 0;
        for (size_t i = 0; i < n; i++) {
            double w = o[i].w_final;
            if (!isfinite(w) || !isfinite(o[i].econ_component) ||
                !isfinite(o[i].trust_component) || !isfinite(o[i].quality))
                v_nan++;
            if (!(w >= 0.0 && w <= 1.0)) v_range++;
            int valid = isfinite(s[i].trust) && s[i].trust >= 0 && s[i].trust <= 1 &&
                        isfinite(s[i].delta_mpl) && isfinite(s[i].delta_error) &&
                        isfinite(s[i].delta_ep) &&
                        !(s[i].branch_states && isnan(s[i].branch_states[3]));
            if (!valid && w != 0.0) v_invalid++;
            if (!valid) continue;
            if (s[i].trust < g.min_trust && (w != 0.0 || !(o[i].flags & (1u << SL_RAIL_TRUST_FLOOR))))
                v_floor++; /* (3) */
            if (s[i].trust == 0.0 && w != 0.0) v_trust0++; /* (1) */
            if (w > 0 && o[i].trust_component != s[i].trust) v_trust0++;
            S += w;
            passed += w > 0;
        }
        /* (2) the share cap, recomputed from the outputs */
        if (S > 0 && !(S / (S + g.real_weight) <= g.ctx.max_synth_share)) v_share++;
        if (!(res.effective_share <= g.ctx.max_synth_share)) v_share++;

        /* (1) lowering one sample's trust never raises its weight */
        if (call % 10 == 0 && passed > 0) {
            size_t i = (size_t)sl_rng_below(&r, n);
            while (o[i].w_final == 0.0) i = (i + 1) % n;
            double w_before = o[i].w_final, t_before = s[i].trust;
            s[i].trust *= sl_rng_uniform(&r);
            CHECK_OK(sl_weight_ctrl_compute(c, &g, s, n, o2, &res2));
            if (o2[i].w_final > w_before * (1 + 1e-12) + 1e-300) v_mono++;
            s[i].trust = t_before;
            n_mono++;
        }
        /* (5) in phase 2 the weights follow the learned models */
        if (phase2 && call % 10 == 1 && res.n_passed > 0) {
            CHECK_OK(sl_weight_ctrl_compute(cl, &g, s, n, o2, &res2));
            /* unless the sigmoid is saturated, lambda and the weights move */
            double lr = res.lambda / g.ctx.max_synth_share;
            if (lr > 1e-9 && lr < 1 - 1e-9) {
                if (res2.lambda == res.lambda) v_lambda_dep++;
                if (res.budget_reached && res2.budget_reached && res.target_synth_weight > 0 &&
                    res2.synth_weight == res.synth_weight)
                    v_lambda_dep++;
                n_lambda_dep++;
            }
            CHECK_OK(sl_weight_ctrl_compute(ce, &g, s, n, o2, &res2));
            /* a valid sample whose econ is neither saturated nor capped must move */
            int changed = 0, movable = 0;
            for (size_t i = 0; i < n; i++) {
                double e = o[i].econ_component;
                if ((o[i].flags & 3u) || (o[i].flags & (1u << SL_RAIL_ECON_CAP))) continue;
                if (!(e > 1e-9 && e < 1 - 1e-9)) continue;
                movable++;
                changed += o2[i].econ_component != e;
            }
            if (movable && !changed) v_econ_dep++;
            n_econ_dep += movable > 0;
        }
    }
    CHECK_MSG(v_status == 0, "%ld calls returned an unexpected status", v_status);
    CHECK_MSG(v_nan == 0, "%ld non-finite outputs", v_nan);
    CHECK_MSG(v_range == 0, "%ld weights outside [0,1]", v_range);
    CHECK_MSG(v_share == 0, "%ld share-cap violations", v_share);
    CHECK_MSG(v_floor == 0, "%ld trust-floor violations", v_floor);
    CHECK_MSG(v_trust0 == 0, "%ld trust-factor violations", v_trust0);
    CHECK_MSG(v_invalid == 0, "%ld invalid samples with weight", v_invalid);
    CHECK_MSG(v_log == 0, "%ld calls with missing log records", v_log);
    CHECK_MSG(v_logmatch == 0, "%ld log records disagree with outputs", v_logmatch);
    CHECK_MSG(v_mono == 0, "%ld/%ld trust-monotonicity violations", v_mono, n_mono);
    CHECK_MSG(v_phase2 == 0, "%ld phase mismatches", v_phase2);
    CHECK_MSG(v_lambda_dep == 0, "%ld/%ld calls ignored the lambda model", v_lambda_dep,
              n_lambda_dep);
    CHECK_MSG(v_econ_dep == 0, "%ld/%ld calls ignored the econ model", v_econ_dep, n_econ_dep);
    CHECK(n_mono > 5000 && n_lambda_dep > 2000 && n_parsed > 500 && n_errors > 500);
    for (int k = 0; k < 2; k++) {
        log_sink *sk = k ? &sink2 : &sink1;
        sink_clear(sk);
        free(sk->kept);
    }
    sl_weight_ctrl_free(c1);
    sl_weight_ctrl_free(c2);
    sl_weight_ctrl_free(cl);
    sl_weight_ctrl_free(ce);
}

int main(void) {
    RUN(econ_model_is_monotone_on_random_inputs);
    RUN(econ_gradient_matches_finite_differences);
    RUN(lambda_gradient_matches_finite_differences);
    RUN(training_reduces_loss_and_recovers_monotone_relation);
    RUN(models_and_records_roundtrip_and_errors);
    RUN(phase1_budget_arithmetic_and_rails);
    RUN(phases_follow_outcome_counts_and_models_drive_phase2);
    RUN(log_records_to_path_and_file);
    RUN(generator_pass_rate_rail);
    RUN(generator_certificate_rail);
    RUN(lambda_data_size_feature_and_v1_files);
    RUN(safety_invariants_hold_on_100k_random_calls);
    return harness_done();
}
