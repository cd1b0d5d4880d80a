/* SPDX-License-Identifier: Apache-2.0 */
/* inputs.c - inputs more than one job reads: the encoder's latent sphere for a world model and
 * the brick id of every episode. One reader each (they were copied per command). */
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_loop.h"
#include "synthloop/sl_npz.h"

sl_status sl_loop_attach_sphere(sl_world *w, const char *enc_path) {
    if (!enc_path) return SL_OK;
    sl_latent_encoder *enc = NULL;
    SL_TRY(sl_latent_load(&enc, enc_path));
    sl_status st = SL_OK;
    if (sl_latent_z_dim(enc) != sl_world_z_dim(w))
        st = sl_set_error(SL_ERR_SHAPE, "%s: encoder latents have %d dims, the world model %d",
                          enc_path, sl_latent_z_dim(enc), sl_world_z_dim(w));
    const float *m = NULL, *sd = NULL;
    if (st == SL_OK) {
        sl_latent_z_norm(enc, &m, &sd);
        st = sl_world_set_sphere(w, m, sd);
    }
    sl_latent_free(enc);
    return st;
}

/* Brick ids: per episode, or per row (the first row of each episode counts). */
sl_status sl_loop_load_brick_ids(const char *path, const sl_world_data *d, int32_t **out) {
    *out = NULL;
    sl_npz *z;
    SL_TRY(sl_npz_open(&z, path));
    const sl_array *a = NULL;
    sl_status st = SL_OK;
    int per_episode = 0;
    if (sl_npz_has(z, "episode_brick_ids")) {
        st = sl_npz_get(z, "episode_brick_ids", &a);
        per_episode = 1;
    } else if (sl_npz_has(z, "brick_ids")) {
        st = sl_npz_get(z, "brick_ids", &a);
    } else {
        st = sl_set_error(SL_ERR_NOTFOUND, "%s: neither 'episode_brick_ids' nor 'brick_ids' "
                          "(write it with 'synthloop bricks --assign-output')", path);
    }
    if (st == SL_OK && (a->dtype != SL_DTYPE_I32 || a->ndim != 1 ||
                        a->shape[0] != (per_episode ? d->n_episodes : d->n)))
        st = sl_set_error(SL_ERR_SHAPE, "%s: '%s' must be i4 [%zu], the dataset's %s", path,
                          per_episode ? "episode_brick_ids" : "brick_ids",
                          per_episode ? d->n_episodes : d->n, per_episode ? "episodes" : "rows");
    int32_t *b = NULL;
    if (st == SL_OK && !(b = malloc(d->n_episodes * sizeof *b)))
        st = sl_set_error(SL_ERR_NOMEM, "out of memory");
    for (size_t e = 0; st == SL_OK && e < d->n_episodes; e++) {
        const int32_t *v = a->data;
        b[e] = per_episode ? v[e] : v[d->ep_start[e]];
        if (b[e] < -1 || b[e] > 1000000)
            st = sl_set_error(SL_ERR_RANGE, "%s: brick id %d of episode %zu out of range", path,
                              (int)b[e], e);
    }
    sl_npz_close(z);
    if (st != SL_OK) {
        free(b);
        return st;
    }
    *out = b;
    return SL_OK;
}

