/* SPDX-License-Identifier: Apache-2.0 */
/* test_privacy_api.c - the privacy API over real HTTP (issue 15): two `synthloop serve`
 * processes on free loopback ports sharing one registry, raw HTTP over sockets.
 *   - concurrent releases charging the same subject, sent at once to both servers, never sum
 *     past its budget: exactly budget / cost succeed (200), the others are refused with 409
 *     and the remaining budget; the ledger, the log and the files on disk agree;
 *   - bad input gets the right 4xx with a JSON error and writes and charges nothing (a schema
 *     naming a missing column, epsilon <= 0, NaN in a measurement, k larger than the table,
 *     paths outside the data root, a missing file, no token);
 *   - budgets, history, releases, overview (with the latest k-anonymity risk) and retention;
 *   - the run report's privacy section shows the releases (anonymization_logs);
 *   - the dashboard's privacy panel in headless Chromium (DOM checked, screenshot taken). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "synthloop/sl_json.h"
#include "synthloop/sl_privacy.h"
#include "synthloop/sl_report.h"
#include "synthloop/sl_serve.h"

#define TOKEN "privacy-api-token"
#define N_CONC 16

static char g_db[700], g_root[700];
static int g_port[2];
static pid_t g_pid[2];
static double g_risk_k4 = -1; /* risk max of the k = 4 release the dashboard shows */

typedef struct reply {
    int status;
    char buf[65536];
    const char *body;
} reply;

static int http(int port, const char *method, const char *target, int auth, const char *body,
                reply *r) {
    memset(r, 0, sizeof *r);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct timeval tv = {30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    char req[8192];
    size_t bl = body ? strlen(body) : 0;
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     method, target, auth ? "Authorization: Bearer " TOKEN "\r\n" : "", bl,
                     body ? body : "");
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    ssize_t k;
    while (got < sizeof r->buf - 1 &&
           (k = recv(fd, r->buf + got, sizeof r->buf - 1 - got, 0)) > 0)
        got += (size_t)k;
    close(fd);
    r->buf[got] = 0;
    char *sep = strstr(r->buf, "\r\n\r\n");
    if (!sep || sscanf(r->buf, "HTTP/1.%*d %d", &r->status) != 1) return -1;
    r->body = sep + 4;
    return 0;
}

static int json_error(const reply *r) {
    cJSON *j = cJSON_Parse(r->body);
    int ok = j && cJSON_IsString(cJSON_GetObjectItem(j, "error"));
    cJSON_Delete(j);
    return ok;
}

static int body_has(const reply *r, const char *s) { return r->body && strstr(r->body, s) != NULL; }

static void put(const char *name, const char *text) {
    char p[900];
    snprintf(p, sizeof p, "%s/%s", g_root, name);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static int exists(const char *name) {
    char p[900];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", g_root, name);
    return stat(p, &sb) == 0;
}

static pid_t start_server(int *port) {
    const char *bin = getenv("SL_BIN");
    int pfd[2];
    if (pipe(pfd) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        char web[800];
        snprintf(web, sizeof web, "%s/web", getenv("SL_TEST_ROOT") ? getenv("SL_TEST_ROOT") : ".");
        unsetenv("ANONYMIZATION_SALT");
        unsetenv("MAX_PRIVACY_EPSILON");
        unsetenv("PRIVACY_BUDGET_PERIOD");
        execl(bin && *bin ? bin : "build/synthloop", "synthloop", "serve", "--db", g_db, "--web",
              web, "--port", "0", "--token", TOKEN, "--data-root", g_root, "--json", "--quiet",
              "--duration", "240", (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    char line[4096];
    ssize_t n = read(pfd[0], line, sizeof line - 1);
    close(pfd[0]);
    if (n <= 0) return -1;
    line[n] = 0;
    cJSON *j = cJSON_Parse(line);
    *port = sl_json_int(j, "port", 0);
    cJSON_Delete(j);
    return *port > 0 ? pid : -1;
}

/* 12 rows: subject u1 has two records, u2..u11 one each. */
static const char CSV[] =
    "user,site,age,diagnosis,cycle\n"
    "u1,Berlin,34,a,12.5\n"
    "u1,Berlin,35,b,14.0\n"
    "u2,Paris,41,a,20.25\n"
    "u3,Paris,44,c,8.0\n"
    "u4,Austin,29,b,30.5\n"
    "u5,Austin,31,a,11.0\n"
    "u6,Boston,52,c,17.75\n"
    "u7,Boston,55,a,9.5\n"
    "u8,Berlin,38,c,22.0\n"
    "u9,Paris,47,b,13.0\n"
    "u10,Austin,27,c,16.5\n"
    "u11,Boston,58,b,19.0\n";

static const char SCHEMA[] =
    "{\"dataset\": \"ops\", \"columns\": ["
    "{\"name\": \"user\", \"role\": \"subject\"},"
    "{\"name\": \"site\", \"role\": \"quasi_identifier\", \"type\": \"category\","
    " \"hierarchy\": {\"EU\": [\"Berlin\", \"Paris\"], \"US\": [\"Austin\", \"Boston\"]}},"
    "{\"name\": \"age\", \"role\": \"quasi_identifier\", \"type\": \"numeric\", \"range\": [16, 80]},"
    "{\"name\": \"diagnosis\", \"role\": \"sensitive\", \"domain\": [\"a\", \"b\", \"c\"]},"
    "{\"name\": \"cycle\", \"role\": \"measurement\", \"clip\": [0, 100], \"grid\": 0.01}]}";

typedef struct conc_arg {
    int i, status;
    double remaining;
    int has_remaining;
} conc_arg;

static pthread_barrier_t g_barrier;

static void *conc_main(void *p) {
    conc_arg *a = p;
    char body[512];
    snprintf(body, sizeof body,
             "{\"schema\":\"ops.json\",\"input\":\"ops.csv\",\"output\":\"out/c%d.csv\","
             "\"technique\":\"dp\",\"epsilon\":0.1,\"actor\":\"thread-%d\"}", a->i, a->i);
    reply *r = malloc(sizeof *r);
    pthread_barrier_wait(&g_barrier);
    a->status = -1;
    if (r && http(g_port[a->i % 2], "POST", "/api/privacy/anonymize", 1, body, r) == 0) {
        a->status = r->status;
        cJSON *j = cJSON_Parse(r->body);
        const cJSON *rem = cJSON_GetObjectItem(j, "remaining");
        a->has_remaining = cJSON_IsNumber(rem);
        a->remaining = a->has_remaining ? rem->valuedouble : -1;
        cJSON_Delete(j);
    }
    free(r);
    return NULL;
}

static int64_t spent_nano(const char *scope, const char *key) {
    sl_registry *reg = NULL;
    int64_t n = -1;
    if (sl_registry_open(g_db, &reg) == SL_OK) sl_ledger_spent_nano(reg, scope, key, &n);
    sl_registry_close(reg);
    return n;
}

static int count_files(const char *dir) {
    char cmd[1000];
    snprintf(cmd, sizeof cmd, "ls '%s/%s' 2>/dev/null | wc -l", g_root, dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p) {
        if (fscanf(p, "%d", &n) != 1) n = -1;
        pclose(p);
    }
    return n;
}

TEST(concurrent_http_never_overspends) {
    reply r;
    /* u1 has 2 records: a dp release at 0.1 per record charges it 0.2 (group privacy); its
     * lifetime budget 1.0 admits exactly 5. The dataset gets room for all of them. */
    CHECK(http(g_port[0], "POST", "/api/privacy/budget", 1,
               "{\"subject\":\"u1\",\"period\":\"lifetime\",\"epsilon\":1.0}", &r) == 0 &&
          r.status == 200);
    CHECK(http(g_port[1], "POST", "/api/privacy/budget", 1,
               "{\"dataset\":\"ops\",\"period\":\"monthly\",\"epsilon\":100}", &r) == 0 &&
          r.status == 200);
    pthread_t th[N_CONC];
    conc_arg a[N_CONC];
    pthread_barrier_init(&g_barrier, NULL, N_CONC);
    for (int i = 0; i < N_CONC; i++) {
        a[i] = (conc_arg){.i = i};
        pthread_create(&th[i], NULL, conc_main, &a[i]);
    }
    int ok = 0, refused = 0, other = 0, rem_ok = 1;
    for (int i = 0; i < N_CONC; i++) {
        pthread_join(th[i], NULL);
        if (a[i].status == 200) ok++;
        else if (a[i].status == 409) {
            refused++;
            if (!a[i].has_remaining || a[i].remaining < 0 || a[i].remaining >= 0.2) rem_ok = 0;
        } else other++;
    }
    pthread_barrier_destroy(&g_barrier);
    printf("  %d concurrent requests over 2 server processes: %d admitted, %d refused (409), "
           "%d other\n", N_CONC, ok, refused, other);
    CHECK_MSG(ok == 5 && refused == N_CONC - 5 && other == 0,
              "expected exactly 5 admitted (budget 1.0 / cost 0.2): %d ok, %d refused, %d other",
              ok, refused, other);
    CHECK_MSG(rem_ok, "a 409 without a remaining budget below the cost");
    CHECK(spent_nano("subject", "u1") == 1000000000LL);
    CHECK(spent_nano("subject", "u2") == 500000000LL);
    CHECK(spent_nano("dataset", "ops") == 500000000LL);
    CHECK_MSG(count_files("out") == 5, "%d files in out/ (want 5, no temp files)",
              count_files("out"));
    /* budget, history and releases agree */
    CHECK(http(g_port[0], "GET", "/api/privacy/budget?subject=u1", 0, NULL, &r) == 0 &&
          r.status == 200);
    cJSON *j = cJSON_Parse(r.body);
    const cJSON *p;
    int seen = 0;
    cJSON_ArrayForEach(p, cJSON_GetObjectItem(j, "periods")) {
        if (strcmp(sl_json_str(p, "period", ""), "lifetime") != 0) continue;
        seen = 1;
        CHECK_CLOSE(sl_json_num(p, "limit", -1), 1.0, 1e-12);
        CHECK_CLOSE(sl_json_num(p, "spent", -1), 1.0, 1e-12);
        CHECK_CLOSE(sl_json_num(p, "remaining", -1), 0.0, 1e-12);
        CHECK_CLOSE(sl_json_num(p, "formal_spent", -1), 1.0, 1e-12);
    }
    CHECK(seen);
    cJSON_Delete(j);
    CHECK(http(g_port[1], "GET", "/api/privacy/history?subject=u1&limit=100", 0, NULL, &r) == 0 &&
          r.status == 200);
    j = cJSON_Parse(r.body);
    CHECK(cJSON_GetArraySize(j) == 5);
    cJSON_Delete(j);
    CHECK(http(g_port[0], "GET", "/api/privacy/releases?dataset=ops&technique=dp", 0, NULL, &r) == 0 &&
          r.status == 200);
    j = cJSON_Parse(r.body);
    CHECK(cJSON_GetArraySize(j) == 5);
    const cJSON *e;
    cJSON_ArrayForEach(e, j) {
        CHECK(strcmp(sl_json_str(e, "status", ""), "placed") == 0);
        CHECK(cJSON_IsTrue(cJSON_GetObjectItem(e, "formal")));
        CHECK(sl_json_int(e, "n_rows", 0) == 12);
        CHECK(cJSON_IsNumber(cJSON_GetObjectItem(e, "run_id")));
    }
    cJSON_Delete(j);
    /* one more is refused with the remaining budget in the message and as a field */
    CHECK(http(g_port[0], "POST", "/api/privacy/anonymize", 1,
               "{\"schema\":\"ops.json\",\"input\":\"ops.csv\",\"output\":\"out/late.csv\","
               "\"technique\":\"dp\",\"epsilon\":0.1}", &r) == 0);
    /* u1's monthly (the default 1.0) and lifetime (1.0) budgets are both spent; the monthly
     * one is checked first */
    CHECK_MSG(r.status == 409 && json_error(&r) && body_has(&r, "remaining 0.000000000") &&
                  body_has(&r, "\"key\":\"u1\"") && body_has(&r, "\"remaining\":0,") &&
                  body_has(&r, "\"requested\":0.2"),
              "%d %s", r.status, r.body ? r.body : "");
    CHECK(!exists("out/late.csv"));
    CHECK(spent_nano("subject", "u1") == 1000000000LL);
}

TEST(bad_input_is_4xx_and_charges_nothing) {
    reply r;
    int64_t before = spent_nano("dataset", "ops");
    put("bad.json", "{\"dataset\": \"ops\", \"columns\": [{\"name\": \"user\", \"role\": "
                    "\"subject\"}, {\"name\": \"weight\", \"role\": \"measurement\", \"clip\": "
                    "[0, 1]}]}");
    put("nan.csv", "user,site,age,diagnosis,cycle\nu20,Berlin,30,a,nan\n");
    static const struct {
        const char *body;
        int status;
        const char *says;
    } cases[] = {
        {"{\"schema\":\"bad.json\",\"input\":\"ops.csv\",\"output\":\"b1.csv\",\"technique\":\"kanon\",\"k\":2}",
         400, "weight"},
        {"{\"schema\":\"ops.json\",\"input\":\"ops.csv\",\"output\":\"b2.csv\",\"technique\":\"dp\",\"epsilon\":0}",
         400, "epsilon"},
        {"{\"schema\":\"ops.json\",\"input\":\"ops.csv\",\"output\":\"b3.csv\",\"technique\":\"dp\",\"epsilon\":-1}",
         400, "epsilon"},
        {"{\"schema\":\"ops.json\",\"input\":\"ops.csv\",\"output\":\"b4.csv\",\"technique\":\"dp\"}",
         400, "needs \\\"epsilon\\\""},
        {"{\"schema\":\"ops.json\",\"input\":\"nan.csv\",\"output\":\"b5.csv\",\"technique\":\"dp\",\"epsilon\":0.1}",
         400, "nan.csv: row 1"},
        {"{\"schema\":\"ops.json\",\"input\":\"ops.csv\",\"output\":\"b6.csv\",\"technique\":\"kanon\",\"k\":1000}",
         422, "1000"},
        {"{\"schema\":\"ops.json\",\"input\":\"../ops.csv\",\"output\":\"b7.csv\",\"technique\":\"kanon\"}",
         400, "relative path"},
        {"{\"schema\":\"ops.json\",\"input\":\"/etc/passwd\",\"output\":\"b8.csv\",\"technique\":\"kanon\"}",
         400, "relative path"},
        {"{\"schema\":\"ops.json\",\"input\":\"ops.csv\",\"output\":\"nodir/b9.csv\",\"technique\":\"kanon\"}",
         400, "directory"},
        {"{\"schema\":\"ops.json\",\"input\":\"missing.csv\",\"output\":\"b10.csv\",\"technique\":\"kanon\"}",
         404, "does not exist"},
        {"{\"schema\":\"ops.json\",\"input\":\"ops.csv\",\"output\":\"b11.csv\",\"technique\":\"magic\"}",
         400, "magic"},
        {"{\"schema\":\"ops.json\",\"input\":\"ops.csv\",\"output\":\"b12.csv\",\"technique\":\"pseudo\"}",
         400, "key"},
        {"{\"schema\":\"ops.json\",\"input\":\"ops.csv\",\"output\":\"ops.csv\",\"technique\":\"kanon\"}",
         400, "must not be the input"},
        {"{\"schema\":\"ops.json\",\"input\":\"ops.csv\",\"output\":\"b13.csv\",\"technique\":\"kanon\",\"k\":2.5}",
         400, "integer"},
        {"{\"schema\":\"ops.json\"} trailing", 400, "JSON object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK(http(g_port[i % 2], "POST", "/api/privacy/anonymize", 1, cases[i].body, &r) == 0);
        CHECK_MSG(r.status == cases[i].status && json_error(&r) && body_has(&r, cases[i].says),
                  "case %zu: status %d body %s", i, r.status, r.body ? r.body : "");
        CHECK_MSG(!body_has(&r, g_root), "case %zu leaks the data root: %s", i, r.body);
    }
    for (int i = 1; i <= 13; i++) {
        char n[32];
        snprintf(n, sizeof n, "b%d.csv", i);
        CHECK_MSG(!exists(n), "%s written by a failed request", n);
    }
    char cmd[1000];
    snprintf(cmd, sizeof cmd, "ls -R '%s' | grep -q '\\.tmp\\.'", g_root);
    CHECK(system(cmd) != 0); /* grep finds no temp file */
    CHECK(spent_nano("dataset", "ops") == before);
    /* the token, methods, routes */
    CHECK(http(g_port[0], "POST", "/api/privacy/anonymize", 0, "{}", &r) == 0 && r.status == 401 &&
          json_error(&r));
    CHECK(http(g_port[0], "POST", "/api/privacy/retention", 0, "{}", &r) == 0 && r.status == 401);
    CHECK(http(g_port[0], "POST", "/api/privacy/budget", 0,
               "{\"subject\":\"u1\",\"period\":\"daily\",\"epsilon\":5}", &r) == 0 && r.status == 401);
    CHECK(http(g_port[0], "GET", "/api/privacy/anonymize", 0, NULL, &r) == 0 && r.status == 405);
    CHECK(http(g_port[0], "GET", "/api/privacy/nothing", 0, NULL, &r) == 0 && r.status == 404);
    CHECK(http(g_port[0], "GET", "/api/privacy/budget", 0, NULL, &r) == 0 && r.status == 400);
    CHECK(http(g_port[0], "GET", "/api/privacy/budget?subject=a&dataset=b", 0, NULL, &r) == 0 &&
          r.status == 400);
    CHECK(http(g_port[0], "GET", "/api/privacy/releases?limit=0", 0, NULL, &r) == 0 && r.status == 400);
    CHECK(http(g_port[0], "POST", "/api/privacy/budget", 1,
               "{\"subject\":\"u1\",\"period\":\"hourly\",\"epsilon\":5}", &r) == 0 && r.status == 400);
    CHECK(http(g_port[0], "POST", "/api/privacy/budget", 1,
               "{\"subject\":\"u1\",\"period\":\"daily\",\"epsilon\":-1}", &r) == 0 && r.status == 400);
    CHECK(http(g_port[0], "POST", "/api/privacy/budget", 1,
               "{\"subject\":\"u1\",\"period\":\"daily\"}", &r) == 0 && r.status == 400);

    /* the pure router: without --data-root anonymize is 403 */
    sl_serve_config c;
    sl_serve_config_default(&c);
    c.db_path = g_db;
    c.token = TOKEN;
    sl_registry *reg = NULL;
    CHECK_OK(sl_registry_open(g_db, &reg));
    sl_http_request q = {0};
    q.method = "POST";
    q.target = "/api/privacy/anonymize";
    q.authorization = "Bearer " TOKEN;
    q.body = "{}";
    q.body_len = 2;
    sl_http_response hr;
    sl_http_route(&c, reg, &q, &hr);
    CHECK(hr.status == 403 && hr.body && strstr(hr.body, "--data-root"));
    sl_http_response_free(&hr);
    sl_registry_close(reg);
}

TEST(kanon_overview_report_retention) {
    reply r;
    /* u1 spent its 1.0 above (lifetime, and the default monthly 1.0): room for two more */
    CHECK(http(g_port[0], "POST", "/api/privacy/budget", 1,
               "{\"subject\":\"u1\",\"period\":\"lifetime\",\"epsilon\":2}", &r) == 0 &&
          r.status == 200);
    CHECK(http(g_port[0], "POST", "/api/privacy/budget", 1,
               "{\"subject\":\"u1\",\"period\":\"monthly\",\"epsilon\":2}", &r) == 0 &&
          r.status == 200);
    CHECK(http(g_port[1], "POST", "/api/privacy/anonymize", 1,
               "{\"schema\":\"ops.json\",\"input\":\"ops.csv\",\"output\":\"kanon.csv\","
               "\"technique\":\"kanon\",\"k\":3,\"l\":2,\"profile\":{\"kanon\":0.05}}", &r) == 0);
    CHECK_MSG(r.status == 200, "kanon release: %d %s", r.status, r.body ? r.body : "");
    cJSON *j = cJSON_Parse(r.body);
    const cJSON *k = cJSON_GetObjectItem(j, "kanon");
    int min_class = sl_json_int(k, "min_class", 0);
    double risk = sl_json_num(k, "risk_max", -1);
    int64_t run = (int64_t)sl_json_num(j, "run_id", 0);
    CHECK(min_class >= 3 && fabs(risk - 1.0 / min_class) < 1e-12);
    CHECK(!cJSON_IsTrue(cJSON_GetObjectItem(j, "formal_epsilon")));
    CHECK_CLOSE(sl_json_num(j, "epsilon_charged", -1), 0.05, 1e-12);
    cJSON_Delete(j);
    CHECK(exists("kanon.csv"));

    /* overview: the latest k-anonymity report is the one just released */
    CHECK(http(g_port[0], "GET", "/api/privacy/overview", 0, NULL, &r) == 0 && r.status == 200);
    j = cJSON_Parse(r.body);
    const cJSON *lk = cJSON_GetObjectItem(j, "latest_kanon");
    const cJSON *rep = cJSON_GetObjectItem(cJSON_GetObjectItem(lk, "params"), "report");
    CHECK(strcmp(sl_json_str(lk, "technique", ""), "kanon") == 0);
    CHECK(sl_json_int(rep, "min_class", 0) == min_class);
    CHECK_CLOSE(sl_json_num(rep, "risk_max", -1), risk, 0);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "releases")) == 6);
    int has_u1 = 0, has_ops = 0;
    const cJSON *b;
    cJSON_ArrayForEach(b, cJSON_GetObjectItem(j, "budgets")) {
        if (strcmp(sl_json_str(b, "key", ""), "u1") == 0) has_u1 = 1;
        if (strcmp(sl_json_str(b, "key", ""), "ops") == 0) has_ops = 1;
    }
    CHECK(has_u1 && has_ops);
    cJSON_Delete(j);

    /* the run of the API release: summary counts and report section read anonymization_logs */
    sl_registry *reg = NULL;
    CHECK_OK(sl_registry_open(g_db, &reg));
    cJSON *sum = NULL;
    CHECK_OK(sl_registry_run_summary(reg, run, &sum));
    CHECK(sl_json_int(cJSON_GetObjectItem(sum, "counts"), "privacy_releases", -1) == 1);
    CHECK(strcmp(sl_json_str(cJSON_GetObjectItem(sum, "run"), "status", ""), "ok") == 0);
    cJSON_Delete(sum);
    char *html = NULL;
    size_t hl = 0;
    CHECK_OK(sl_report_html(reg, run, &html, &hl));
    CHECK(html && strstr(html, "Privacy releases") && strstr(html, "<td>kanon</td>") &&
          strstr(html, "<td>ops</td>") && !strstr(html, "no data recorded for privacy releases"));
    free(html);
    cJSON *exp = NULL;
    CHECK_OK(sl_registry_export_json(reg, run, &exp));
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(exp, "anonymization_logs")) == 1);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(exp, "privacy_charges")) == 12); /* 11 subjects + dataset */
    cJSON_Delete(exp);
    sl_registry_close(reg);

    /* retention: nothing expired now; everything (5 dp + 1 kanon) after 91 days */
    CHECK(http(g_port[0], "POST", "/api/privacy/retention", 1, "{}", &r) == 0 && r.status == 200 &&
          body_has(&r, "\"deleted\":0"));
    char body[128];
    snprintf(body, sizeof body, "{\"dry_run\":true,\"now\":%lld}", (long long)time(NULL) + 91 * 86400);
    CHECK(http(g_port[0], "POST", "/api/privacy/retention", 1, body, &r) == 0 && r.status == 200 &&
          body_has(&r, "\"would_delete\":6"));
    CHECK(exists("kanon.csv") && count_files("out") == 5);
    snprintf(body, sizeof body, "{\"now\":%lld,\"actor\":\"ops-team\"}", (long long)time(NULL) + 91 * 86400);
    CHECK(http(g_port[1], "POST", "/api/privacy/retention", 1, body, &r) == 0 && r.status == 200 &&
          body_has(&r, "\"deleted\":6"));
    CHECK(!exists("kanon.csv") && count_files("out") == 0);
    CHECK(http(g_port[0], "GET", "/api/privacy/releases?technique=retention", 0, NULL, &r) == 0 &&
          r.status == 200);
    j = cJSON_Parse(r.body);
    CHECK(cJSON_GetArraySize(j) == 6 &&
          strcmp(sl_json_str(cJSON_GetArrayItem(j, 0), "actor", ""), "ops-team") == 0);
    cJSON_Delete(j);
    /* a fresh kanon release for the dashboard (retention deleted the first one's file) */
    CHECK(http(g_port[1], "POST", "/api/privacy/anonymize", 1,
               "{\"schema\":\"ops.json\",\"input\":\"ops.csv\",\"output\":\"kanon2.csv\","
               "\"technique\":\"kanon\",\"k\":4,\"l\":2,\"profile\":{\"kanon\":0.05}}", &r) == 0 &&
          r.status == 200);
    j = cJSON_Parse(r.body);
    g_risk_k4 = sl_json_num(cJSON_GetObjectItem(j, "kanon"), "risk_max", -1);
    cJSON_Delete(j);
    CHECK(g_risk_k4 > 0 && g_risk_k4 <= 0.25);
}

TEST(privacy_panel_in_chromium) {
    const char *chromium = "/usr/bin/chromium";
    struct stat sb;
    CHECK_MSG(stat(chromium, &sb) == 0, "%s is missing: the dashboard test cannot run", chromium);
    if (stat(chromium, &sb) != 0) return;
    char dir[800], dom[800], png[800], cmd[4096];
    snprintf(dir, sizeof dir, "%s/chromium-profile", harness_tmpdir());
    snprintf(dom, sizeof dom, "%s/privacy-dom.html", harness_tmpdir());
    const char *keep = getenv("SL_PRIVACY_PNG"); /* keep the screenshot to look at */
    snprintf(png, sizeof png, "%s", keep && *keep ? keep : "");
    if (!*png) snprintf(png, sizeof png, "%s/privacy-panel.png", harness_tmpdir());
    const char *flags = "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run"
                        " --disable-background-networking --disable-component-update --disable-sync"
                        " --disable-dev-shm-usage --hide-scrollbars";
    snprintf(cmd, sizeof cmd,
             "timeout -k 5 60 %s %s --user-data-dir='%s/a' --virtual-time-budget=8000"
             " --dump-dom 'http://127.0.0.1:%d/?live=0' > '%s' 2>/dev/null",
             chromium, flags, dir, g_port[0], dom);
    int rc = system(cmd);
    CHECK_MSG(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "chromium --dump-dom failed (status %d)", rc);
    char *d = NULL;
    size_t dl = 0;
    CHECK_OK(sl_read_file(dom, &d, &dl));
    if (d) {
        CHECK_MSG(strstr(d, "data-privacy-key=\"subject:u1\" data-period=\"lifetime\""),
                  "u1's lifetime budget row is not in the panel");
        CHECK(strstr(d, "data-privacy-key=\"dataset:ops\""));
        CHECK(strstr(d, "data-kanon=\"prosecutor risk max\""));
        char want[64];
        snprintf(want, sizeof want, "<td>%.5g</td>", g_risk_k4); /* app.js fmt: 5 digits */
        CHECK_MSG(strstr(d, want), "risk max %s of the k=4 release not shown", want);
        CHECK(strstr(d, "data-release=\""));
        CHECK(strstr(d, "<td>retention</td>"));
    }
    free(d);
    snprintf(cmd, sizeof cmd,
             "timeout -k 5 60 %s %s --user-data-dir='%s/b' --virtual-time-budget=8000"
             " --window-size=1400,1300 --screenshot='%s' 'http://127.0.0.1:%d/?live=0'"
             " >/dev/null 2>&1",
             chromium, flags, dir, png, g_port[0]);
    rc = system(cmd);
    CHECK_MSG(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "chromium --screenshot failed (status %d)", rc);
    const char *root = getenv("SL_TEST_ROOT");
    snprintf(cmd, sizeof cmd, "%s %s/tests/py/reg_png_check.py '%s'", SL_PYTHON, root ? root : ".",
             png);
    CHECK_MSG(system(cmd) == 0, "screenshot %s is blank or unreadable", png);
}

int main(void) {
    snprintf(g_db, sizeof g_db, "%s/privapi.db", harness_tmpdir());
    snprintf(g_root, sizeof g_root, "%s/data", harness_tmpdir());
    mkdir(g_root, 0755);
    char out[800];
    snprintf(out, sizeof out, "%s/out", g_root);
    mkdir(out, 0755);
    put("ops.csv", CSV);
    put("ops.json", SCHEMA);
    sl_registry *reg = NULL;
    if (sl_registry_open(g_db, &reg) == SL_OK) sl_registry_close(reg);
    g_pid[0] = start_server(&g_port[0]);
    g_pid[1] = start_server(&g_port[1]);
    if (g_pid[0] <= 0 || g_pid[1] <= 0) {
        printf("FAIL test_privacy_api: cannot start synthloop serve\n");
        return 1;
    }
    RUN(concurrent_http_never_overspends);
    RUN(bad_input_is_4xx_and_charges_nothing);
    RUN(kanon_overview_report_retention);
    RUN(privacy_panel_in_chromium);
    for (int i = 0; i < 2; i++) {
        kill(g_pid[i], SIGTERM);
        waitpid(g_pid[i], NULL, 0);
    }
    return harness_done();
}
