/* SPDX-License-Identifier: Apache-2.0 */
/* test_checkpoint.c - the shared checkpoint writer/reader (src/nn/checkpoint.c): round trip of
 * arenas (with prefixes), vectors and metadata; the same bytes as a direct safetensors write of
 * the same tensors; a numpy reading of the file; and every refusal (wrong kind, missing tensor,
 * wrong shape or dtype, NaN in the file, an error while building) with nothing written. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "harness.h"
#include "synthloop/sl_nn.h"
#include "synthloop/sl_safetensors.h"

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) b[n] = '\0';
    *len = (size_t)n;
    return b;
}

static int file_exists(const char *p) {
    struct stat s;
    return stat(p, &s) == 0;
}

/* An arena with two tensors, filled with distinct values. */
static void small_arena(sl_nn_arena *a, float base) {
    sl_nn_arena_init(a);
    size_t w[2] = {3, 4}, b[1] = {3};
    sl_nn_arena_add(a, "l0.weight", 2, w, NULL);
    sl_nn_arena_add(a, "l0.bias", 1, b, NULL);
    sl_nn_arena_alloc(a);
    for (size_t i = 0; i < a->n_tensors; i++) {
        float *p = sl_nn_arena_param(a, i);
        for (size_t k = 0; k < a->tensors[i].numel; k++) p[k] = base + (float)(10 * i + k) * 0.25f;
    }
}

TEST(round_trip_and_same_bytes_as_direct_write) {
    char path[600], direct[600];
    snprintf(path, sizeof path, "%s/rt.safetensors", harness_tmpdir());
    snprintf(direct, sizeof direct, "%s/direct.safetensors", harness_tmpdir());
    sl_nn_arena a0, a1;
    small_arena(&a0, 1.0f);
    small_arena(&a1, -2.0f);
    float mean[5] = {0.5f, -1.0f, 2.0f, 3.5f, 0.0f};
    double platt[2] = {1.25, -0.5};
    cJSON *extra = cJSON_CreateObject();
    cJSON_AddStringToObject(extra, "data", "d.npz");
    cJSON_AddStringToObject(extra, "kind_of", "ours wins");
    cJSON_AddNumberToObject(extra, "n", 7);
    sl_nn_ckpt *c = NULL;
    CHECK_OK(sl_nn_ckpt_new(&c));
    CHECK_OK(sl_nn_ckpt_put_arena(c, &a0, "m0."));
    CHECK_OK(sl_nn_ckpt_put_arena(c, &a1, "m1."));
    CHECK_OK(sl_nn_ckpt_put_vec_f32(c, "mean", 5, mean));
    CHECK_OK(sl_nn_ckpt_put_vec_f64(c, "platt", 2, platt));
    CHECK_OK(sl_nn_ckpt_set_meta(c, "synthloop_kind", "test_model"));
    CHECK_OK(sl_nn_ckpt_set_meta(c, "kind_of", "ours"));
    CHECK_OK(sl_nn_ckpt_add_meta_json(c, extra)); /* kind_of is kept; data, n appended */
    CHECK_OK(sl_nn_ckpt_set_meta(c, "config", "{\"a\":1}"));
    CHECK(sl_nn_ckpt_meta(c, "kind_of") && strcmp(sl_nn_ckpt_meta(c, "kind_of"), "ours") == 0);
    CHECK(sl_nn_ckpt_meta(c, "n") && strcmp(sl_nn_ckpt_meta(c, "n"), "7") == 0);
    CHECK_OK(sl_nn_ckpt_write(c, path));
    sl_nn_ckpt_free(c);

    /* the same tensors and metadata through sl_safetensors_write directly: same bytes */
    sl_tensor_ref t[6];
    memset(t, 0, sizeof t);
    const char *names[4] = {"m0.l0.weight", "m0.l0.bias", "m1.l0.weight", "m1.l0.bias"};
    for (int i = 0; i < 4; i++) {
        const sl_nn_arena *ar = i < 2 ? &a0 : &a1;
        const sl_nn_tensor *tt = &ar->tensors[i % 2];
        t[i] = (sl_tensor_ref){names[i], SL_DTYPE_F32, tt->ndim, {0}, ar->params + tt->offset};
        for (int d = 0; d < tt->ndim; d++) t[i].shape[d] = tt->shape[d];
    }
    t[4] = (sl_tensor_ref){"mean", SL_DTYPE_F32, 1, {5}, mean};
    t[5] = (sl_tensor_ref){"platt", SL_DTYPE_F64, 1, {2}, platt};
    cJSON *meta = cJSON_CreateObject();
    cJSON_AddStringToObject(meta, "synthloop_kind", "test_model");
    cJSON_AddStringToObject(meta, "kind_of", "ours");
    cJSON_AddStringToObject(meta, "data", "d.npz");
    cJSON_AddStringToObject(meta, "n", "7");
    cJSON_AddStringToObject(meta, "config", "{\"a\":1}");
    CHECK_OK(sl_safetensors_write(direct, t, 6, meta));
    cJSON_Delete(meta);
    size_t la = 0, lb = 0;
    char *ba = read_all(path, &la), *bb = read_all(direct, &lb);
    CHECK(ba && bb && la == lb && memcmp(ba, bb, la) == 0);
    free(ba);
    free(bb);

    /* read back into fresh arenas of the same layout */
    sl_nn_ckpt *r = NULL;
    CHECK_OK(sl_nn_ckpt_read(&r, path, "synthloop_kind", "test_model", "test model"));
    sl_nn_arena b0, b1;
    small_arena(&b0, 100.0f);
    small_arena(&b1, 100.0f);
    CHECK_OK(sl_nn_ckpt_get_arena(r, &b0, "m0."));
    CHECK_OK(sl_nn_ckpt_get_arena(r, &b1, "m1."));
    CHECK(memcmp(b0.params, a0.params, a0.numel * sizeof(float)) == 0);
    CHECK(memcmp(b1.params, a1.params, a1.numel * sizeof(float)) == 0);
    float w2[12];
    size_t wshape[2] = {3, 4};
    CHECK_OK(sl_nn_ckpt_get_f32(r, "m1.l0.weight", 2, wshape, w2));
    CHECK(memcmp(w2, a1.params + a1.tensors[0].offset, sizeof w2) == 0);
    size_t wrong[2] = {4, 3};
    CHECK_STATUS(sl_nn_ckpt_get_f32(r, "m1.l0.weight", 2, wrong, w2), SL_ERR_SHAPE);
    float m2[5];
    double p2[2];
    CHECK_OK(sl_nn_ckpt_get_vec_f32(r, "mean", 5, m2));
    CHECK(memcmp(m2, mean, sizeof mean) == 0);
    CHECK_OK(sl_nn_ckpt_get_vec_f64(r, "platt", 2, p2));
    CHECK(p2[0] == 1.25 && p2[1] == -0.5);
    CHECK(sl_nn_ckpt_has(r, "mean") && !sl_nn_ckpt_has(r, "absent"));
    cJSON *cfg = NULL;
    CHECK_OK(sl_nn_ckpt_meta_json(r, "config", &cfg));
    CHECK(cfg && cJSON_GetObjectItem(cfg, "a") && cJSON_GetObjectItem(cfg, "a")->valueint == 1);
    cJSON_Delete(cfg);
    CHECK_STATUS(sl_nn_ckpt_meta_json(r, "data", &cfg), SL_ERR_FORMAT); /* "d.npz" is not JSON */
    CHECK(strstr(sl_last_error(), "rt.safetensors") && strstr(sl_last_error(), "'data'"));
    CHECK_STATUS(sl_nn_ckpt_meta_json(r, "absent", &cfg), SL_ERR_FORMAT);

    /* refusals: wrong shape, missing tensor, wrong dtype, wrong kind */
    float small[4];
    CHECK_STATUS(sl_nn_ckpt_get_vec_f32(r, "mean", 4, small), SL_ERR_SHAPE);
    CHECK(strstr(sl_last_error(), "'mean'") && strstr(sl_last_error(), "rt.safetensors"));
    CHECK_STATUS(sl_nn_ckpt_get_vec_f32(r, "absent", 4, small), SL_ERR_NOTFOUND);
    CHECK_STATUS(sl_nn_ckpt_get_vec_f32(r, "platt", 2, small), SL_ERR_DTYPE);
    CHECK_STATUS(sl_nn_ckpt_get_vec_f64(r, "mean", 5, p2), SL_ERR_SHAPE);
    sl_nn_arena wide;
    sl_nn_arena_init(&wide);
    size_t ws[2] = {3, 5};
    sl_nn_arena_add(&wide, "l0.weight", 2, ws, NULL);
    sl_nn_arena_alloc(&wide);
    CHECK_STATUS(sl_nn_ckpt_get_arena(r, &wide, "m0."), SL_ERR_SHAPE);
    CHECK(strstr(sl_last_error(), "m0.l0.weight") && strstr(sl_last_error(), "[3,4]"));
    sl_nn_arena_free(&wide);
    sl_nn_ckpt_free(r);
    r = NULL;
    CHECK_STATUS(sl_nn_ckpt_read(&r, path, "synthloop_kind", "world_model", "world model"),
                 SL_ERR_FORMAT);
    CHECK_MSG(r == NULL && strstr(sl_last_error(), "not a world model checkpoint") &&
          strstr(sl_last_error(), "test_model"), "message: %s", sl_last_error());
    CHECK_STATUS(sl_nn_ckpt_read(&r, path, "kind", "policy", "policy"), SL_ERR_FORMAT);
    CHECK(strstr(sl_last_error(), "(missing)"));
    sl_nn_ckpt_free(NULL); /* harmless */

    /* numpy reads the same tensors and the metadata in our order */
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             SL_PYTHON " -c \"\n"
             "import json, struct, sys, numpy as np\n"
             "b = open('%s', 'rb').read(); n = struct.unpack('<Q', b[:8])[0]\n"
             "h = json.loads(b[8:8 + n]); d = b[8 + n:]\n"
             "def t(k, dt):\n"
             "    o = h[k]['data_offsets']; return np.frombuffer(d[o[0]:o[1]], dt).reshape(h[k]['shape'])\n"
             "ok = list(h['__metadata__']) == ['synthloop_kind', 'kind_of', 'data', 'n', 'config']\n"
             "ok &= h['m1.l0.weight']['shape'] == [3, 4] and float(t('m1.l0.weight', '<f4')[2, 3]) == -2 + 11 * 0.25\n"
             "ok &= float(t('m0.l0.bias', '<f4')[1]) == 1 + 11 * 0.25\n"
             "ok &= t('platt', '<f8').tolist() == [1.25, -0.5] and t('mean', '<f4').tolist() == [0.5, -1, 2, 3.5, 0]\n"
             "sys.exit(0 if ok else 1)\"",
             path);
    CHECK_MSG(system(cmd) == 0, "numpy reading of %s disagrees", path);
    cJSON_Delete(extra);
    sl_nn_arena_free(&a0);
    sl_nn_arena_free(&a1);
    sl_nn_arena_free(&b0);
    sl_nn_arena_free(&b1);
}

TEST(nan_in_file_is_refused_on_load) {
    char path[600];
    snprintf(path, sizeof path, "%s/nan.safetensors", harness_tmpdir());
    float v[3] = {1.0f, 2.0f, 3.0f};
    sl_nn_ckpt *c = NULL;
    CHECK_OK(sl_nn_ckpt_new(&c));
    CHECK_OK(sl_nn_ckpt_put_vec_f32(c, "v", 3, v));
    CHECK_OK(sl_nn_ckpt_write(c, path));
    sl_nn_ckpt_free(c);
    /* overwrite the last float (the file's last 4 bytes) with a quiet NaN */
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    if (!f) return;
    uint32_t nan_bits = 0x7fc00000u;
    fseek(f, -4, SEEK_END);
    fwrite(&nan_bits, 4, 1, f);
    fclose(f);
    sl_nn_ckpt *r = NULL;
    CHECK_OK(sl_nn_ckpt_read(&r, path, NULL, NULL, NULL));
    float out[3];
    CHECK_STATUS(sl_nn_ckpt_get_vec_f32(r, "v", 3, out), SL_ERR_NAN);
    CHECK(strstr(sl_last_error(), "'v'") && strstr(sl_last_error(), "nan.safetensors"));
    sl_nn_ckpt_free(r);
}

TEST(error_while_building_writes_nothing) {
    char path[600];
    snprintf(path, sizeof path, "%s/never.safetensors", harness_tmpdir());
    float v[2] = {1.0f, 2.0f};
    size_t shape[1] = {2};
    sl_nn_ckpt *c = NULL;
    CHECK_OK(sl_nn_ckpt_new(&c));
    CHECK_OK(sl_nn_ckpt_put_vec_f32(c, "v", 2, v));
    CHECK_STATUS(sl_nn_ckpt_put_f32(c, "bad", 0, shape, v), SL_ERR_ARG); /* rank 0 */
    CHECK_STATUS(sl_nn_ckpt_put_vec_f32(c, "w", 2, v), SL_ERR_ARG);     /* sticky */
    CHECK_STATUS(sl_nn_ckpt_set_meta(c, "k", "v"), SL_ERR_ARG);
    CHECK_STATUS(sl_nn_ckpt_write(c, path), SL_ERR_ARG);
    CHECK(strstr(sl_last_error(), "never.safetensors") && strstr(sl_last_error(), "not written"));
    CHECK(!file_exists(path));
    sl_nn_ckpt_free(c);
    /* NaN in a tensor: the writer refuses, the path is untouched */
    float bad[2] = {1.0f, NAN};
    CHECK_OK(sl_nn_ckpt_new(&c));
    CHECK_OK(sl_nn_ckpt_put_vec_f32(c, "bad", 2, bad));
    CHECK_STATUS(sl_nn_ckpt_write(c, path), SL_ERR_NAN);
    CHECK(!file_exists(path));
    sl_nn_ckpt_free(c);
    /* an arena that was never allocated */
    sl_nn_arena a;
    sl_nn_arena_init(&a);
    CHECK_OK(sl_nn_ckpt_new(&c));
    CHECK_STATUS(sl_nn_ckpt_put_arena(c, &a, ""), SL_ERR_STATE);
    CHECK_STATUS(sl_nn_ckpt_write(c, path), SL_ERR_STATE);
    CHECK(!file_exists(path));
    sl_nn_ckpt_free(c);
}

int main(void) {
    RUN(round_trip_and_same_bytes_as_direct_write);
    RUN(nan_in_file_is_refused_on_load);
    RUN(error_while_building_writes_nothing);
    return harness_done();
}
