/* SPDX-License-Identifier: Apache-2.0 */
/* negatives.c - trust_net negatives from the generator being gated (issue 13 item 5): the
 * world model's own free-running windows from real starts of episodes the trust net's
 * positives do not come from, so that trust cannot sit near 1 on windows a fresh classifier
 * separates from real ones.
 *
 * Invariant: every window returned is finite, starts at a real state of an allowed episode
 * and has exactly one of the requested lengths; same inputs + seed -> same bits.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_dataset.h"
#include "synthloop/sl_latent.h"
#include "synthloop/sl_synth.h"

/* Episode of dataset row r (ep_start is sorted, [n_episodes + 1]). */
static size_t episode_of_row(const sl_world_data *d, size_t r) {
    size_t lo = 0, hi = d->n_episodes;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (d->ep_start[mid] <= r) lo = mid;
        else hi = mid;
    }
    return lo;
}

sl_status sl_synth_world_negatives(const sl_world *w, const sl_world_data *d,
                                   const uint8_t *episode_ok, const int *lengths, int n_lengths,
                                   size_t n_per_length, float noise, uint64_t seed,
                                   float **neg_z, size_t **neg_offsets, size_t *n_seq) {
    *neg_z = NULL;
    *neg_offsets = NULL;
    *n_seq = 0;
    if (!w || !d || !lengths || n_lengths < 1)
        return sl_set_error(SL_ERR_ARG, "world negatives: no model, data or lengths");
    if (n_per_length == 0 || n_per_length > ((size_t)1 << 20))
        return sl_set_error(SL_ERR_ARG, "world negatives: %zu windows per length not in [1, 2^20]",
                            n_per_length);
    const int Z = sl_world_z_dim(w);
    if (Z != d->z_dim)
        return sl_set_error(SL_ERR_SHAPE, "world negatives: the model has %d latent dims, the data %d",
                            Z, d->z_dim);
    size_t longest = 0, n_ok = 0;
    for (size_t e = 0; e < d->n_episodes; e++)
        if (!episode_ok || episode_ok[e]) {
            size_t len = sl_world_data_ep_len(d, e);
            longest = len > longest ? len : longest;
            n_ok++;
        }
    if (n_ok == 0) return sl_set_error(SL_ERR_ARG, "world negatives: no allowed episode");
    /* the lengths that fit: a window of L steps is a rollout of horizon L - 1 */
    int use[SL_TRUST_MAX_LENGTHS], nu = 0;
    for (int i = 0; i < n_lengths && nu < SL_TRUST_MAX_LENGTHS; i++) {
        if (lengths[i] < 2)
            return sl_set_error(SL_ERR_ARG, "world negatives: window length %d < 2", lengths[i]);
        if ((size_t)(lengths[i] - 1) <= longest) use[nu++] = lengths[i];
    }
    if (nu == 0)
        return sl_set_error(SL_ERR_ARG, "world negatives: no window length fits the allowed "
                            "episodes (longest has %zu steps)", longest);
    size_t total_rows = 0;
    for (int i = 0; i < nu; i++) total_rows += n_per_length * (size_t)use[i];
    size_t ns = n_per_length * (size_t)nu;
    float *out = malloc(total_rows * (size_t)Z * sizeof(float));
    size_t *off = malloc((ns + 1) * sizeof *off);
    if (!out || !off) {
        free(out);
        free(off);
        return sl_set_error(SL_ERR_NOMEM, "world negatives: out of memory for %zu rows", total_rows);
    }
    off[0] = 0;
    size_t k = 0; /* sequences written */
    sl_status st = SL_OK;
    for (int li = 0; li < nu && st == SL_OK; li++) {
        const int L = use[li], H = L - 1;
        size_t got = 0, round = 0;
        while (got < n_per_length && st == SL_OK) {
            /* draw from every episode, keep the starts in allowed ones: draw enough that about
             * twice the missing count lands in allowed episodes */
            size_t need = n_per_length - got;
            size_t draw = need * 2 * d->n_episodes / n_ok + 8;
            if (++round > 64) {
                st = sl_set_error(SL_ERR_DIVERGED, "world negatives: too few rollouts of %d steps "
                                  "start in the allowed episodes", L);
                break;
            }
            float *win = NULL;
            size_t *starts = malloc(draw * sizeof *starts);
            if (!starts) {
                st = sl_set_error(SL_ERR_NOMEM, "world negatives: out of memory");
                break;
            }
            st = sl_world_generate_windows(w, d, H, draw, noise,
                                           seed + 1000003u * (uint64_t)L + 7919u * round, &win,
                                           starts);
            for (size_t i = 0; st == SL_OK && i < draw && got < n_per_length; i++) {
                size_t e = episode_of_row(d, starts[i]);
                if (episode_ok && !episode_ok[e]) continue;
                if (sl_world_data_ep_len(d, e) < (size_t)H) continue;
                memcpy(out + off[k] * (size_t)Z, win + i * (size_t)L * (size_t)Z,
                       (size_t)L * (size_t)Z * sizeof(float));
                off[k + 1] = off[k] + (size_t)L;
                k++;
                got++;
            }
            free(win);
            free(starts);
        }
    }
    if (st == SL_OK && !sl_all_finite_f32(out, total_rows * (size_t)Z))
        st = sl_set_error(SL_ERR_INTERNAL, "world negatives: a non-finite window slipped through");
    if (st != SL_OK) {
        free(out);
        free(off);
        return st;
    }
    *neg_z = out;
    *neg_offsets = off;
    *n_seq = ns;
    return SL_OK;
}

sl_status sl_synth_world_negatives_files(const char *world_path, const char *encoder_path,
                                         const char *data_path, const char *latents_path,
                                         const sl_trust_config *cfg, size_t n_per_length,
                                         float noise, float **neg_z, size_t **neg_offsets,
                                         size_t *n_seq) {
    *neg_z = NULL;
    *neg_offsets = NULL;
    *n_seq = 0;
    if (!world_path || !data_path || !latents_path || !cfg)
        return sl_set_error(SL_ERR_ARG, "world negatives: need the world model, data and latents");
    sl_world *w = NULL;
    sl_latent_encoder *enc = NULL;
    sl_dataset *ds = NULL;
    float *z = NULL, *zn = NULL;
    size_t n = 0;
    int zd = 0;
    sl_world_data d;
    memset(&d, 0, sizeof d);
    uint8_t *part = NULL;
    sl_status st = sl_world_load(&w, world_path);
    if (st == SL_OK && encoder_path) {
        st = sl_latent_load(&enc, encoder_path);
        if (st == SL_OK && sl_latent_z_dim(enc) != sl_world_z_dim(w))
            st = sl_set_error(SL_ERR_SHAPE, "%s: encoder latents have %d dims, the world model %d",
                              encoder_path, sl_latent_z_dim(enc), sl_world_z_dim(w));
        if (st == SL_OK) {
            const float *m = NULL, *sd = NULL;
            sl_latent_z_norm(enc, &m, &sd);
            st = sl_world_set_sphere(w, m, sd);
        }
    }
    if (st == SL_OK) st = sl_dataset_load_npz(&ds, data_path);
    if (st == SL_OK) st = sl_world_load_latents(latents_path, ds, &z, &zn, &n, &zd);
    if (st == SL_OK && zd != sl_world_z_dim(w))
        st = sl_set_error(SL_ERR_SHAPE, "%s: latents have %d dims, the world model %s has %d",
                          latents_path, zd, world_path, sl_world_z_dim(w));
    if (st == SL_OK) {
        const sl_world_config *wc = sl_world_get_config(w);
        st = sl_world_data_init(&d, ds, z, zn, zd, (const char(*)[SL_WORLD_NAME_MAX])wc->econ_names,
                                wc->n_econ);
    }
    if (st == SL_OK && !(part = malloc(d.n_episodes)))
        st = sl_set_error(SL_ERR_NOMEM, "world negatives: out of memory");
    if (st == SL_OK) st = sl_trust_split_episodes(cfg, d.n_episodes, part);
    if (st == SL_OK) /* only starts of episodes the positives do not come from */
        for (size_t e = 0; e < d.n_episodes; e++) part[e] = part[e] != 0;
    if (st == SL_OK)
        st = sl_synth_world_negatives(w, &d, part, cfg->lengths, cfg->n_lengths, n_per_length,
                                      noise, cfg->seed + 0x5eedu, neg_z, neg_offsets, n_seq);
    free(part);
    sl_world_data_clear(&d);
    free(z);
    free(zn);
    sl_dataset_free(ds);
    sl_latent_free(enc);
    sl_world_free(w);
    return st;
}
