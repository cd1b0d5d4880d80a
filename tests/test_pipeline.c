/* SPDX-License-Identifier: Apache-2.0 */
/* test_pipeline.c - end to end through the real binary: collect -> encode -> train -> ab, and
 * the demo on tiny settings; outputs checked with numpy / sqlite3 from Python. */
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static const char *bin(void) {
    const char *b = getenv("SL_BIN");
    return b && *b ? b : "./build/synthloop";
}

/* Run a shell command in the test's temp dir; returns the exit status. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...) {
    char cmd[4096], full[5000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "cd '%s' && %s", harness_tmpdir(), cmd);
    int st = system(full);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int exists(const char *name) {
    char p[1024];
    struct stat s;
    snprintf(p, sizeof p, "%s/%s", harness_tmpdir(), name);
    return stat(p, &s) == 0 && s.st_size > 0;
}

TEST(stages_end_to_end) {
    const char *S = bin();
    CHECK(sh("%s collect --episodes 12 --output d.npz --quiet --db t.db", S) == 0 ||
          sh("%s collect --episodes 12 --output d.npz --quiet", S) == 0);
    CHECK(exists("d.npz") && exists("d.json"));
    CHECK(sh("%s encode --data d.npz --output z.npz --checkpoint enc.safetensors --epochs 3 "
             "--quiet > enc.txt 2>&1", S) == 0);
    CHECK(exists("z.npz") && exists("enc.safetensors"));
    CHECK(sh("%s train --data d.npz --latents z.npz --output pi.safetensors --updates 200 "
             "--hidden 32 --batch 64 --db t.db --quiet > train.txt", S) == 0);
    CHECK(exists("pi.safetensors"));
    CHECK(sh("%s ab --data d.npz --latents z.npz --encoder enc.safetensors --seeds 2 "
             "--updates 150 --hidden 32 --batch 64 --eval-episodes 2 --output ab.json --db t.db "
             "--quiet > ab.txt", S) == 0);
    CHECK(sh("grep -q '^verdict: ' ab.txt") == 0);
    /* the result JSON: both arms, per-seed values, provenance, the final policy, no NaN */
    CHECK(sh(SL_PYTHON " -c \"import json,math; j=json.load(open('ab.json')); "
             "m=j['metrics']; assert j['n_seeds']==2 and j['policy']=='final'; "
             "assert all(len(m[k][a]['per_seed'])==2 for k in m for a in ('baseline','augmented')); "
             "assert 'git' in j and 'seed' in j and j['inputs']['updates']==150; "
             "assert j['verdict'] in ('value','no_harm','minor_degradation','poisoning','inconclusive')\"") == 0);
    /* registry: the train and ab runs are ok, with config and metrics */
    CHECK(sh(SL_PYTHON " -c \"import sqlite3; c=sqlite3.connect('t.db'); "
             "r=dict(c.execute(\\\"select command,status from runs where command in ('train','ab')\\\").fetchall()); "
             "assert r=={'train':'ok','ab':'ok'}, r; "
             "assert c.execute('select count(*) from metrics').fetchone()[0] > 10; "
             "assert c.execute('select count(*) from ab_experiments').fetchone()[0] == 1; "
             "assert c.execute('pragma integrity_check').fetchone()[0]=='ok'\"") == 0);
    /* bad input: a missing file is a clear error, exit 1, and the run is recorded as failed */
    CHECK(sh("%s ab --data nope.npz --latents z.npz --eval-episodes 0 --db t.db --quiet "
             "2> err.txt", S) == 1);
    CHECK(sh("grep -q 'synthloop: error: .*nope.npz' err.txt") == 0);
    CHECK(sh(SL_PYTHON " -c \"import sqlite3; c=sqlite3.connect('t.db'); "
             "assert c.execute(\\\"select status from runs where command='ab' order by id desc "
             "limit 1\\\").fetchone()[0]=='failed'\"") == 0);
    /* usage errors exit 2 with a hint */
    CHECK(sh("%s ab --seeds zero 2> usage.txt", S) == 2);
    CHECK(sh("grep -q \"try 'synthloop ab --help'\" usage.txt") == 0);
    /* latents from another dataset are refused */
    CHECK(sh("%s collect --episodes 3 --output small.npz --quiet", S) == 0);
    CHECK(sh("%s ab --data small.npz --latents z.npz --eval-episodes 0 --db none 2> shape.txt",
             S) == 1);
}

/* The dashboard, served by the real binary over the demo's registry and loaded in headless
 * Chromium, lists the demo's run and draws its plots; the screenshot is not blank. */
static void dashboard_shows_demo(const char *S) {
    struct stat sb;
    CHECK_MSG(stat("/usr/bin/chromium", &sb) == 0, "/usr/bin/chromium is missing");
    if (stat("/usr/bin/chromium", &sb) != 0) return;
    const char *root = getenv("SL_TEST_ROOT");
    char absroot[1024];
    if (!root || !*root) root = ".";
    if (!realpath(root, absroot)) snprintf(absroot, sizeof absroot, "%s", root);
    CHECK(sh("{ %s serve --db demo.db --web '%s/web' --port 0 --duration 40 --json --quiet "
             "> serve.json 2> serve.err & echo $! > serve.pid; }", S, absroot) == 0);
    /* the first line of serve.json carries the port */
    CHECK(sh("for i in $(seq 50); do [ -s serve.json ] && break; sleep 0.1; done; [ -s serve.json ]") == 0);
    char cmd[3000];
    const char *flags = "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run"
                        " --disable-background-networking --disable-component-update --disable-sync"
                        " --disable-dev-shm-usage --hide-scrollbars";
    snprintf(cmd, sizeof cmd,
             "P=$(" SL_PYTHON " -c \"import json; print(json.loads(open('serve.json').readline())['port'])\") && "
             "R=$(" SL_PYTHON " -c \"import sqlite3; print(sqlite3.connect('demo.db').execute("
             "\\\"select id from runs where command='demo'\\\").fetchone()[0])\") && "
             "timeout -k 5 60 /usr/bin/chromium %s --user-data-dir=\"$PWD/chr-a\" "
             "--virtual-time-budget=8000 --dump-dom \"http://127.0.0.1:$P/?live=0#run=$R\" "
             "> dom.html 2>/dev/null && "
             "grep -q \"data-run-id=\\\"$R\\\"\" dom.html && "
             "grep -q 'data-series=\"ab/baseline/heldout_action_mse\"' dom.html && "
             "grep -q 'data-series=\"ab/augmented/heldout_action_mse\"' dom.html && "
             "timeout -k 5 60 /usr/bin/chromium %s --user-data-dir=\"$PWD/chr-b\" "
             "--virtual-time-budget=8000 --window-size=1400,1000 --screenshot=\"$PWD/dash.png\" "
             "\"http://127.0.0.1:$P/?live=0#run=$R\" > /dev/null 2>&1 && "
             SL_PYTHON " '%s/tests/py/reg_png_check.py' dash.png",
             flags, flags, absroot);
    int rc = sh("%s", cmd);
    CHECK_MSG(rc == 0, "dashboard over the demo's registry: run not listed, plots missing or "
                       "blank screenshot (exit %d)", rc);
    sh("kill $(cat serve.pid) 2>/dev/null; true");
}

/* The seeds' thesis through the real binary, at toy size: branches of a poisoned world model
 * (a one-step model run free with 3x its noise) enter the learner ungated, but the gated
 * controller gives them no weight, so the augmented arm IS the baseline (same bits), while
 * the ungated mix changes the policy. (The physics-scale experiment: docs/RESULTS.md.) */
TEST(gated_poison_never_reaches_the_learner) {
    const char *S = bin();
    CHECK(sh("%s collect --episodes 12 --seed 2 --output pd.npz --quiet --db none", S) == 0);
    CHECK(sh("%s encode --data pd.npz --output pz.npz --checkpoint penc.safetensors --epochs 3 "
             "--quiet --db none > /dev/null", S) == 0);
    CHECK(sh("%s world train --data pd.npz --latents pz.npz --output wpois.safetensors --mode tf "
             "--members 1 --hidden 16 --iters 60 --seed 3 --quiet --db none", S) == 0);
    CHECK(sh("%s trust train --latents pz.npz --data pd.npz --output pt.safetensors --steps 100 "
             "--quiet --db none > /dev/null", S) == 0);
    CHECK(sh("%s branches collect --data pd.npz --latents pz.npz --world-model wpois.safetensors "
             "--trust-model pt.safetensors --horizon 10 --noise 3 --bc-iters 50 "
             "--output pb.npz --quiet --db none", S) == 0);
    const char *ab = "ab --data pd.npz --latents pz.npz --encoder penc.safetensors "
                     "--synth-data pb.npz --seeds 2 --updates 150 --hidden 32 --batch 64 "
                     "--eval-episodes 0 --db none --quiet";
    CHECK(sh("%s %s --weighting controller --synth-weight 0.25 --output ab_gated.json > /dev/null",
             S, ab) == 0);
    CHECK(sh("%s %s --weighting ungated --synth-weight 0.25 --max-share 0.5 "
             "--output ab_ungated.json > /dev/null", S, ab) == 0);
    CHECK(sh(SL_PYTHON " -c \"import json; "
             "g=json.load(open('ab_gated.json')); u=json.load(open('ab_ungated.json')); "
             "m=lambda j: j['metrics']['action_mse']; "
             "assert g['synth_share'] == 0.0, g['synth_share']; "
             "assert 'low_pass_rate' in g['synthetic']['rails'] or g['synthetic']['passed_gates'] == 0; "
             "assert m(g)['augmented']['per_seed'] == m(g)['baseline']['per_seed']; "
             "assert m(u)['baseline']['per_seed'] == m(g)['baseline']['per_seed']; "
             "assert 0.15 < u['synth_share'] <= 0.25 + 1e-6, u['synth_share']; "
             "assert m(u)['augmented']['per_seed'] != m(u)['baseline']['per_seed']\"") == 0);

    /* The generator certificate: branches collect stores the model's std ratio per horizon
     * (file and sidecar agree, all finite). Then the same branches with every gate opened
     * (passed, trust 1) and two certificates written by numpy: in the band the controller
     * uses them; one horizon at 1.5 makes the certificate rail zero the whole batch. */
    CHECK(sh(SL_PYTHON " -c \"import json, numpy as np; "
             "b=dict(np.load('pb.npz')); j=json.load(open('pb.json'))['generator']; "
             "h=b['generator_horizons']; r=b['generator_std_ratio']; "
             "assert h.dtype==np.int32 and r.dtype==np.float64 and len(h)==len(r)>=2, (h, r); "
             "assert list(h)==j['horizons'] and np.allclose(r, j['std_ratio']) and np.isfinite(r).all(); "
             "assert np.isclose(j['min'], r.min()) and np.isclose(j['max'], r.max()); "
             "b['passed'][:]=True; b['trust'][:]=1.0; "
             "b['generator_std_ratio']=np.array([1.0,1.02,0.97,1.1,1.0]); "
             "b['generator_horizons']=np.array([5,10,20,40,60],dtype=np.int32); np.savez('pb_ok.npz', **b); "
             "b['generator_std_ratio']=np.array([1.0,1.02,0.97,1.5,1.0]); np.savez('pb_bad.npz', **b)\"") == 0);
    const char *ab2 = "ab --data pd.npz --latents pz.npz --encoder penc.safetensors "
                      "--seeds 2 --updates 150 --hidden 32 --batch 64 --eval-episodes 0 "
                      "--db none --quiet --weighting controller --synth-weight 0.25";
    CHECK(sh("%s %s --synth-data pb_ok.npz --output ab_cert_ok.json > /dev/null", S, ab2) == 0);
    CHECK(sh("%s %s --synth-data pb_bad.npz --output ab_cert_bad.json > /dev/null", S, ab2) == 0);
    CHECK(sh(SL_PYTHON " -c \"import json; "
             "o=json.load(open('ab_cert_ok.json')); x=json.load(open('ab_cert_bad.json')); "
             "m=lambda j: j['metrics']['action_mse']; so=o['synthetic']; sx=x['synthetic']; "
             "assert so['generator_certified'] and sx['generator_certified']; "
             "assert abs(sx['generator_std_ratio_max'] - 1.5) < 1e-12, sx; "
             "assert 'unstable_generator' not in so['rails'] and o['synth_share'] > 0.15, so; "
             "assert 'unstable_generator' in sx['rails'] and x['synth_share'] == 0.0, sx; "
             "assert m(x)['augmented']['per_seed'] == m(x)['baseline']['per_seed']; "
             "assert m(o)['augmented']['per_seed'] != m(o)['baseline']['per_seed']; "
             "assert x['inputs']['generator_band'] == [0.8, 1.2], x['inputs']\"") == 0);
    /* --generator-band off lets the same file in; a bad band is a usage error */
    CHECK(sh("%s %s --synth-data pb_bad.npz --generator-band off --output ab_cert_off.json "
             "> /dev/null", S, ab2) == 0);
    CHECK(sh(SL_PYTHON " -c \"import json; f=json.load(open('ab_cert_off.json')); "
             "assert 'unstable_generator' not in f['synthetic']['rails'] and f['synth_share'] > 0.15; "
             "assert f['inputs']['generator_band'] == [0, 0]\"") == 0);
    CHECK(sh("%s %s --synth-data pb_bad.npz --generator-band 1.2,0.8 > /dev/null 2>&1", S, ab2) ==
          2);

    /* The learned components end to end: two runs record their outcomes, `weights train` fits
     * both models from them, and the controller reads them: phase 2 once the models have
     * min_outcomes records, phase 1 (saying why) below that. */
    CHECK(sh("%s %s --synth-data pb_ok.npz --record-outcomes rec.jsonl --output ab_rec1.json "
             "> /dev/null", S, ab2) == 0);
    CHECK(sh("%s %s --synth-data pb_ok.npz --synth-weight 0.1 --record-outcomes rec.jsonl "
             "--output ab_rec2.json > /dev/null", S, ab2) == 0);
    CHECK(sh(SL_PYTHON " -c \"import json; "
             "L=[json.loads(x) for x in open('rec.jsonl') if x.strip()]; "
             "lam=[r for r in L if r['type']=='lambda_outcome']; eco=[r for r in L if r['type']=='econ_outcome']; "
             "a=json.load(open('ab_rec1.json')); n=int(a['outcome_record']['econ_records']); "
             "assert len(lam)==4 and n > 0 and len(eco)==2*n, (len(lam), n, len(eco)); "
             "assert lam[0]['share']==0 and lam[0]['reward']==0.5 and lam[0]['real_rows'] > 0; "
             "assert all(0 <= r['outcome'] <= 1 for r in eco) and all(0 <= r['reward'] <= 1 for r in lam); "
             "assert abs(lam[1]['share'] - a['synth_share']) < 1e-12; "
             "assert abs(lam[1]['reward'] - a['outcome_record']['outcome']) < 1e-12; "
             "import math; m=a['metrics']['action_mse']; b=m['baseline']['mean']; g=m['augmented']['mean']; "
             "y=0.5+0.5*math.tanh(-((g-b)/max(abs(b),1e-6))/0.1); "
             "assert abs(y - a['outcome_record']['outcome']) < 1e-9, (y, a['outcome_record'])\"") == 0);
    /* registry: the weight log and the outcome file are recorded artifacts, and a failed run
     * (train, ab, ladder) ends with {"error": message} in its summary */
    CHECK(sh("%s %s --synth-data pb_ok.npz --weight-log wl.jsonl --record-outcomes rec_reg.jsonl "
             "--db reg.db --output ab_reg.json > /dev/null", S, "ab --data pd.npz --latents pz.npz "
             "--encoder penc.safetensors --seeds 1 --updates 50 --hidden 16 --batch 32 "
             "--eval-episodes 0 --quiet --weighting controller") == 0);
    CHECK(sh("%s ab --data pd.npz --latents pz.npz --synth-data missing.npz --seeds 1 --updates 10 "
             "--eval-episodes 0 --db reg.db --quiet > /dev/null 2>&1", S) == 1);
    CHECK(sh("%s train --data pd.npz --latents pz.npz --synth-data missing.npz --updates 10 "
             "--output p.safetensors --db reg.db --quiet > /dev/null 2>&1", S) == 1);
    CHECK(sh("%s ladder --data pd.npz --latents pz.npz --encoder penc.safetensors "
             "--world-model missing.safetensors --trust-model pt.safetensors --out lad --db reg.db "
             "--quiet > /dev/null 2>&1", S) == 1);
    CHECK(sh(SL_PYTHON " -c \"import json, os, sqlite3; c=sqlite3.connect('reg.db'); "
             "k=[r[0] for r in c.execute('select kind from artifacts')]; "
             "assert 'weight_log.jsonl' in k and 'outcomes.jsonl' in k, k; "
             "ps=[r[0] for r in c.execute('select path from artifacts')]; "
             "assert all(os.path.isabs(x) and os.path.exists(x) for x in ps), ps; "
             "f=c.execute(\\\"select command, summary from runs where status='failed'\\\").fetchall(); "
             "assert sorted(x[0] for x in f)==['ab','ladder','train'], f; "
             "assert all('missing' in json.loads(x[1])['error'] for x in f), f\"") == 0);
    CHECK(sh("%s weights train --records rec.jsonl --econ-output econ.json --lambda-output lam.json "
             "--steps 200 --db none --quiet", S) == 0);
    CHECK(sh("%s weights train --records rec.jsonl --db none --quiet > /dev/null 2>&1", S) == 2);
    CHECK(sh("%s %s --synth-data pb_ok.npz --econ-model econ.json --lambda-model lam.json "
             "--min-outcomes 1 --output ab_p2.json > /dev/null", S, ab2) == 0);
    CHECK(sh("%s %s --synth-data pb_ok.npz --econ-model econ.json --lambda-model lam.json "
             "--output ab_p1.json > /dev/null", S, ab2) == 0);
    CHECK(sh(SL_PYTHON " -c \"import json; "
             "e=json.load(open('econ.json')); l=json.load(open('lam.json')); "
             "assert e['format']=='synthloop.econ_model' and e['n_train'] > 0; "
             "assert l['format']=='synthloop.lambda_model' and l['n_train']==4 and len(l['w'])==9; "
             "p2=json.load(open('ab_p2.json'))['synthetic']; p1=json.load(open('ab_p1.json'))['synthetic']; "
             "assert p2['controller_phase']==2, p2; "
             "assert p1['controller_phase']==1 and 'min_outcomes' in p1['controller_phase_reason'], p1\"") == 0);
}

TEST(demo_tiny) {
    const char *S = bin();
    int rc = sh("%s demo --out demo --db demo.db --episodes 10 --seeds 2 --updates 100 "
                "--eval-episodes 2 --wm-iters 20 --members 2 --hidden 32 --generator-band off "
                "--quiet > demo.txt 2>&1",
                S);
    CHECK_MSG(rc == 0, "demo exit %d", rc);
    if (rc != 0) sh("cat demo.txt");
    /* the three arms' story: two verdict lines, each decided or inconclusive with a count */
    CHECK(sh("grep -q '^verdict (gated augmentation): ' demo.txt") == 0);
    CHECK(sh("grep -q '^verdict (ungated unstable generator): ' demo.txt") == 0);
    CHECK(sh("grep -A1 '^verdict' demo.txt | grep -Eq 'decided with|would decide|no feasible'") == 0);
    CHECK(sh("grep -q '^report: ' demo.txt") == 0);
    const char *files[] = {"demo/real.npz", "demo/latents.npz", "demo/encoder.safetensors",
                           "demo/bricks.json", "demo/world.safetensors", "demo/trust.safetensors",
                           "demo/world_eval.json", "demo/branches.npz", "demo/ab.json",
                           "demo/report.html", "demo/branches_ungated.npz", "demo/ab_ungated.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        CHECK_MSG(exists(files[i]), "missing %s", files[i]);
    CHECK(sh(SL_PYTHON " -c \"import json,sqlite3,numpy as np; "
             "e=json.load(open('demo/world_eval.json')); assert [r['h'] for r in e['horizons']]==[5,10,20,40,60]; "
             "b=np.load('demo/branches.npz'); assert np.isfinite(b['branch_states']).all(); "
             "c=sqlite3.connect('demo.db'); "
             "assert c.execute(\\\"select status from runs where command='demo'\\\").fetchone()[0]=='ok'; "
             "import os; ps=[r[0] for t in ('datasets','models','artifacts') for r in c.execute('select path from '+t)]; "
             "assert len(ps) >= 9 and all(os.path.isabs(x) and os.path.exists(x) for x in ps), ps\"") == 0);
    dashboard_shows_demo(S);
}

int main(void) {
    RUN(stages_end_to_end);
    RUN(gated_poison_never_reaches_the_learner);
    RUN(demo_tiny);
    return harness_done();
}
