/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_csv.c - libFuzzer target for the CSV importer (sl_import_csv_buffer), parsing from memory.
 *
 * The first input byte picks a few options (delimiter, --max-episodes) so that those paths are
 * fuzzed too; the rest is the CSV text. Invariant checked: a successful parse yields a dataset
 * that passes sl_dataset_validate and can be summarised; a failed one sets a message and
 * returns no dataset. Built by scripts/fuzz.sh with clang -fsanitize=fuzzer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "synthloop/sl_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sl_import_options o;
    sl_import_options_default(&o);
    if (size > 0) {
        uint8_t ctl = data[0];
        static const char delims[4] = {',', ';', '\t', '|'};
        o.delimiter = delims[ctl & 3];
        o.max_episodes = (ctl >> 2) & 3; /* 0 = all */
        data++;
        size--;
    }
    /* copy into an exact-size heap buffer so that any over-read is caught by ASan */
    char *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    sl_dataset *ds = NULL;
    sl_status s = sl_import_csv_buffer(&ds, buf, size, "fuzz.csv", &o, NULL);
    if (s == SL_OK) {
        if (!ds || sl_dataset_validate(ds, "fuzz.csv") != SL_OK) abort();
        cJSON *j = NULL;
        if (sl_import_summary_json(ds, &j) != SL_OK) abort();
        cJSON_Delete(j);
    } else {
        if (ds || !*sl_last_error()) abort();
    }
    sl_dataset_free(ds);
    free(buf);
    return 0;
}
