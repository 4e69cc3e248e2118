/*
 * An EMW1 client in C, written from docs/protocol.md: libzmq, msgpack-c and OpenSSL.
 *
 *   emw1_client VECTORS.json
 *       Rebuild every vector of docs/protocol-vectors.json from its inputs (address, header
 *       fields, body) and compare the header, the signed bytes and frames 0-5 byte for byte;
 *       verify each published signature with its key; re-sign the RSA vectors and compare
 *       byte for byte (PKCS#1 v1.5 is deterministic). Then print one freshly signed EVT as
 *       "frames <hex> <hex> ..." for the caller to verify.
 *
 *   emw1_client VECTORS.json ENDPOINT PEER_SPKI_HEX
 *       Connect a DEALER to ENDPOINT, send a REQ signed with the P-256 test key, receive the
 *       REP, check its frames, header and that its signature verifies with PEER_SPKI_HEX and
 *       that it answers our request. Prints "sent <hex frames>" and "ok". With the
 *       environment variables EMW1_CURVE_SERVER, EMW1_CURVE_PUBLIC and EMW1_CURVE_SECRET (Z85,
 *       40 characters each) the connection is CURVE-secured; EMW1_TIMEOUT_MS bounds the wait
 *       for the reply (default 10000). EMW1_KEY (the hex of a PKCS#8 DER P-256 key), EMW1_SRC
 *       and EMW1_ADDRESS sign as another identity, to another service: against an emulator,
 *       the identity's key from the key registry's keys.json, its site id and site/service.
 *
 * Exit status 0 on success, 1 on a mismatch or failure (with a line on stderr).
 *
 * Build: cc -O2 -Wall -o emw1_client emw1_client.c $(pkg-config --cflags --libs libzmq msgpack openssl)
 */
#include <msgpack.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define TAG "EMW1-SIG\0"
#define TAG_LEN 9

static int failures = 0;

static void fail(const char *what, const char *detail) {
    fprintf(stderr, "FAIL %s: %s\n", what, detail);
    failures++;
}

/* ---- bytes ---------------------------------------------------------------------------- */

typedef struct {
    unsigned char *p;
    size_t n;
} buf_t;

static buf_t buf_from(const void *p, size_t n) {
    buf_t b = {malloc(n ? n : 1), n};
    if (n) memcpy(b.p, p, n);
    return b;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static buf_t unhex(const char *s, size_t len) {
    buf_t b = {malloc(len / 2 + 1), len / 2};
    for (size_t i = 0; i < b.n; i++) b.p[i] = (unsigned char)(hexval(s[2 * i]) << 4 | hexval(s[2 * i + 1]));
    return b;
}

static void print_hex(FILE *f, const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) fprintf(f, "%02x", p[i]);
}

static int same(const char *what, const unsigned char *p, size_t n, buf_t expected) {
    if (n == expected.n && memcmp(p, expected.p, n) == 0) return 1;
    fprintf(stderr, "FAIL %s: got ", what);
    print_hex(stderr, p, n);
    fprintf(stderr, "\n     expected ");
    print_hex(stderr, expected.p, expected.n);
    fprintf(stderr, "\n");
    failures++;
    return 0;
}

/* ---- a minimal reader for docs/protocol-vectors.json ------------------------------------ */
/* The file's values are plain strings (hex, decimal or text without quotes or escapes), so
 * locating `"name": "value"` after a given position is all a client's test needs. */

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (fread(s, 1, (size_t)n, f) != (size_t)n) n = 0;
    s[n] = 0;
    fclose(f);
    return s;
}

/* The string value of "key" at or after `from`; its length in *len; NULL if absent. */
static const char *json_str(const char *from, const char *key, size_t *len) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": \"", key);
    const char *p = strstr(from, pat);
    if (!p) return NULL;
    p += strlen(pat);
    *len = (size_t)(strchr(p, '"') - p);
    return p;
}

static const char *json_object(const char *from, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": {", key);
    const char *p = strstr(from, pat);
    return p ? p + strlen(pat) : NULL;
}

static buf_t json_hex(const char *from, const char *key) {
    size_t n = 0;
    const char *s = json_str(from, key, &n);
    if (!s) {
        fail("vectors file", key);
        return buf_from("", 0);
    }
    return unhex(s, n);
}

/* Next quoted string after *pos (skipping spaces, commas, brackets); advance *pos. */
static int next_quoted(const char **pos, const char **s, size_t *n) {
    const char *p = *pos;
    while (*p && *p != '"' && *p != ']') p++;
    if (*p != '"') return 0;
    *s = p + 1;
    *n = (size_t)(strchr(*s, '"') - *s);
    *pos = *s + *n + 1;
    return 1;
}

/* ---- EMW1 ------------------------------------------------------------------------------- */

typedef struct {
    const char *key;
    char kind; /* 's' str, 'b' bin, 'i' unsigned int */
    buf_t bytes;
    uint64_t u;
} field_t;

/* The msgpack header: one map, keys in the given order, smallest integer forms. */
static buf_t pack_header(const field_t *fields, int count) {
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, (size_t)count);
    for (int i = 0; i < count; i++) {
        size_t kl = strlen(fields[i].key);
        msgpack_pack_str(&pk, kl);
        msgpack_pack_str_body(&pk, fields[i].key, kl);
        if (fields[i].kind == 's') {
            msgpack_pack_str(&pk, fields[i].bytes.n);
            msgpack_pack_str_body(&pk, fields[i].bytes.p, fields[i].bytes.n);
        } else if (fields[i].kind == 'b') {
            msgpack_pack_bin(&pk, fields[i].bytes.n);
            msgpack_pack_bin_body(&pk, fields[i].bytes.p, fields[i].bytes.n);
        } else {
            msgpack_pack_uint64(&pk, fields[i].u);
        }
    }
    buf_t out = buf_from(sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy(&sbuf);
    return out;
}

static void put_u32(unsigned char *p, size_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* SIGBYTES = "EMW1-SIG\0" || cmd || u32be(len) addr || u32be(len) header || u32be(len) body */
static buf_t signed_bytes(unsigned char cmd, buf_t addr, buf_t header, buf_t body) {
    size_t n = TAG_LEN + 1 + 4 + addr.n + 4 + header.n + 4 + body.n;
    buf_t out = {malloc(n), n};
    unsigned char *p = out.p;
    memcpy(p, TAG, TAG_LEN);
    p += TAG_LEN;
    *p++ = cmd;
    put_u32(p, addr.n);
    p += 4;
    memcpy(p, addr.p, addr.n);
    p += addr.n;
    put_u32(p, header.n);
    p += 4;
    memcpy(p, header.p, header.n);
    p += header.n;
    put_u32(p, body.n);
    p += 4;
    memcpy(p, body.p, body.n);
    return out;
}

static buf_t sign(EVP_PKEY *key, buf_t data) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t n = 0;
    buf_t sig = {NULL, 0};
    if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
        EVP_DigestSign(ctx, NULL, &n, data.p, data.n) == 1) {
        sig.p = malloc(n);
        if (EVP_DigestSign(ctx, sig.p, &n, data.p, data.n) == 1) sig.n = n;
    }
    EVP_MD_CTX_free(ctx);
    if (!sig.n) fail("sign", "EVP_DigestSign failed");
    return sig;
}

static int verifies(EVP_PKEY *key, buf_t data, const unsigned char *sig, size_t n) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestVerify(ctx, sig, n, data.p, data.n) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

static buf_t sha256(buf_t data) {
    buf_t out = {malloc(32), 32};
    unsigned int n = 32;
    EVP_Digest(data.p, data.n, out.p, &n, EVP_sha256(), NULL);
    return out;
}

static EVP_PKEY *private_key(buf_t der) {
    const unsigned char *p = der.p;
    return d2i_AutoPrivateKey(NULL, &p, (long)der.n);
}

static EVP_PKEY *public_key(buf_t der) {
    const unsigned char *p = der.p;
    return d2i_PUBKEY(NULL, &p, (long)der.n);
}

/* ---- vector mode ------------------------------------------------------------------------ */

static const char *VECTOR_NAMES[] = {"ready", "req", "rep", "rep_delivery", "evt", "err", "heartbeat", "bye", "req_rsa"};

static void check_vector(const char *json, const char *name) {
    char what[128];
    const char *v = json_object(strstr(json, "\"vectors\""), name);
    if (!v) {
        fail("vector missing", name);
        return;
    }
    const char *keyname;
    size_t n;
    keyname = json_str(v, "key", &n);
    char keyobj[32];
    snprintf(keyobj, sizeof keyobj, "%.*s", (int)n, keyname);
    const char *k = json_object(strstr(json, "\"keys\""), keyobj);
    EVP_PKEY *priv = private_key(json_hex(k, "private_pkcs8_der"));
    buf_t spki = json_hex(k, "public_spki_der");
    EVP_PKEY *pub = public_key(spki);
    buf_t kid = json_hex(k, "kid");
    snprintf(what, sizeof what, "%s kid", name);
    buf_t my_kid = sha256(spki);
    same(what, my_kid.p, my_kid.n, kid);

    const char *cmd_s = strstr(v, "\"command\": ");
    unsigned char cmd = (unsigned char)atoi(cmd_s + strlen("\"command\": "));
    const char *addr_s = json_str(v, "address", &n);
    buf_t addr = buf_from(addr_s, n);

    field_t fields[32];
    int count = 0;
    const char *pos = strstr(v, "\"header_fields\": [") + strlen("\"header_fields\": [");
    const char *s;
    while (count < 32 && next_quoted(&pos, &s, &n)) {
        char *key = strndup(s, n);
        const char *kind, *val;
        size_t kn, vn;
        next_quoted(&pos, &kind, &kn);
        next_quoted(&pos, &val, &vn);
        fields[count].key = key;
        fields[count].kind = kind[0] == 'i' ? 'i' : kind[0] == 'b' ? 'b' : 's';
        if (kind[0] == 'b') fields[count].bytes = unhex(val, vn);
        else if (kind[0] == 's') fields[count].bytes = buf_from(val, vn);
        else fields[count].u = strtoull(val, NULL, 10);
        count++;
        while (*pos && *pos != ']') pos++; /* end of this [key, kind, value] */
        pos++;
        while (*pos == ' ' || *pos == '\n' || *pos == ',') pos++;
        if (*pos == ']') break; /* end of header_fields */
    }
    buf_t body = json_hex(v, "body");
    buf_t header = pack_header(fields, count);
    snprintf(what, sizeof what, "%s header", name);
    same(what, header.p, header.n, json_hex(v, "header"));
    buf_t sb = signed_bytes(cmd, addr, header, body);
    snprintf(what, sizeof what, "%s signed bytes", name);
    same(what, sb.p, sb.n, json_hex(v, "signed_bytes"));

    buf_t published = json_hex(v, "signature");
    snprintf(what, sizeof what, "%s signature", name);
    if (!verifies(pub, sb, published.p, published.n)) fail(what, "the published signature does not verify");
    sb.p[sb.n - 1] ^= 1;
    if (verifies(pub, sb, published.p, published.n)) fail(what, "verifies over tampered bytes");
    sb.p[sb.n - 1] ^= 1;
    if (EVP_PKEY_get_base_id(priv) == EVP_PKEY_RSA) { /* deterministic: byte for byte */
        buf_t mine = sign(priv, sb);
        snprintf(what, sizeof what, "%s RSA signature", name);
        same(what, mine.p, mine.n, published);
    }

    /* frames 0-6 as a DEALER sends them */
    buf_t frames[7] = {buf_from("", 0), buf_from("EMW1", 4), buf_from(&cmd, 1), addr, header, body, published};
    const char *fpos = strstr(v, "\"frames\": [") + strlen("\"frames\": [");
    for (int i = 0; i < 7; i++) {
        if (!next_quoted(&fpos, &s, &n)) {
            fail(name, "fewer than 7 frames in the vector");
            break;
        }
        snprintf(what, sizeof what, "%s frame %d", name, i);
        same(what, frames[i].p, frames[i].n, unhex(s, n));
    }
    EVP_PKEY_free(priv);
    EVP_PKEY_free(pub);
}

/* ---- a fresh message ---------------------------------------------------------------------- */

typedef struct {
    buf_t frames[7];
    unsigned char id[16];
} message_t;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static message_t seal(EVP_PKEY *key, buf_t kid, unsigned char cmd, const char *src, const char *addr, const char *body) {
    message_t m;
    RAND_bytes(m.id, 16);
    field_t f[6] = {
        {"src", 's', buf_from(src, strlen(src)), 0},
        {"id", 'b', buf_from(m.id, 16), 0},
        {"kid", 'b', kid, 0},
        {"alg", 's', buf_from("ecdsa-p256-sha256", 17), 0},
        {"ts", 'i', {NULL, 0}, now_ns()},
        {"ttl", 'i', {NULL, 0}, 5000000000u},
    };
    buf_t a = buf_from(addr, strlen(addr)), h = pack_header(f, 6), b = buf_from(body, strlen(body));
    buf_t sig = sign(key, signed_bytes(cmd, a, h, b));
    buf_t frames[7] = {buf_from("", 0), buf_from("EMW1", 4), buf_from(&cmd, 1), a, h, b, sig};
    memcpy(m.frames, frames, sizeof frames);
    return m;
}

static void print_frames(const char *label, const message_t *m) {
    printf("%s", label);
    for (int i = 0; i < 7; i++) {
        printf(" ");
        if (m->frames[i].n == 0) printf("-");
        print_hex(stdout, m->frames[i].p, m->frames[i].n);
    }
    printf("\n");
}

/* ---- network mode ------------------------------------------------------------------------ */

/* Find a header value by key; NULL if absent. Floats anywhere in the header are refused. */
static const msgpack_object *header_get(const msgpack_object *map, const char *key, int *bad) {
    const msgpack_object *found = NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR) *bad = 1;
        if (kv->val.type == MSGPACK_OBJECT_FLOAT32 || kv->val.type == MSGPACK_OBJECT_FLOAT64) *bad = 1;
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(key) &&
            memcmp(kv->key.via.str.ptr, key, strlen(key)) == 0)
            found = &kv->val;
    }
    return found;
}

static int exchange(const char *json, const char *endpoint, const char *peer_hex) {
    const char *k = json_object(strstr(json, "\"keys\""), "p256");
    const char *key_hex = getenv("EMW1_KEY");
    EVP_PKEY *key = key_hex ? private_key(unhex(key_hex, strlen(key_hex)))
                            : private_key(json_hex(k, "private_pkcs8_der"));
    buf_t kid = {NULL, 0};
    if (key_hex && key) { /* kid: SHA-256 of the key's DER SubjectPublicKeyInfo */
        unsigned char *der = NULL;
        int n = i2d_PUBKEY(key, &der);
        if (n <= 0) {
            fail("keys", "cannot encode the public key of EMW1_KEY");
            return 1;
        }
        kid = sha256(buf_from(der, (size_t)n));
        OPENSSL_free(der);
    } else {
        kid = json_hex(k, "kid");
    }
    buf_t peer_spki = unhex(peer_hex, strlen(peer_hex));
    EVP_PKEY *peer = public_key(peer_spki);
    buf_t peer_kid = sha256(peer_spki);
    if (!key || !peer) {
        fail("keys", "cannot load the test key or the peer key");
        return 1;
    }
    void *ctx = zmq_ctx_new();
    void *sock = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
    const char *server = getenv("EMW1_CURVE_SERVER"), *pub = getenv("EMW1_CURVE_PUBLIC"),
               *sec = getenv("EMW1_CURVE_SECRET");
    if (server && pub && sec &&
        (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server, 40) != 0 ||
         zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, pub, 40) != 0 ||
         zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sec, 40) != 0)) {
        fail("curve", zmq_strerror(zmq_errno()));
        return 1;
    }
    const char *timeout_s = getenv("EMW1_TIMEOUT_MS");
    long timeout_ms = timeout_s ? atol(timeout_s) : 10000;
    if (zmq_connect(sock, endpoint) != 0) {
        fail("connect", zmq_strerror(zmq_errno()));
        return 1;
    }
    const char *me = getenv("EMW1_SRC") ? getenv("EMW1_SRC") : "mun-13-104";
    const char *to = getenv("EMW1_ADDRESS") ? getenv("EMW1_ADDRESS") : "asp-eltax-east/eltax";
    message_t req = seal(key, kid, 0x01, me, to, "ping from C");
    for (int i = 0; i < 7; i++) zmq_send(sock, req.frames[i].p, req.frames[i].n, i < 6 ? ZMQ_SNDMORE : 0);
    print_frames("sent", &req);

    zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, timeout_ms) != 1) {
        fail("receive", "no reply in time");
        return 1;
    }
    buf_t got[8];
    int count = 0, more = 1;
    while (more) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        zmq_msg_recv(&msg, sock, 0);
        if (count < 8) got[count++] = buf_from(zmq_msg_data(&msg), zmq_msg_size(&msg));
        more = zmq_msg_more(&msg);
        zmq_msg_close(&msg);
    }
    if (count != 7 && count != 8) fail("reply", "not 7 or 8 frames");
    else if (got[0].n != 0 || got[1].n != 4 || memcmp(got[1].p, "EMW1", 4) != 0) fail("reply", "not EMW1");
    else if (got[2].n != 1 || got[2].p[0] != 0x02) fail("reply", "not a REP");
    else if (got[3].n != strlen(me) || memcmp(got[3].p, me, got[3].n) != 0) fail("reply", "not addressed to me");
    else {
        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        size_t off = 0;
        if (msgpack_unpack_next(&up, (const char *)got[4].p, got[4].n, &off) != MSGPACK_UNPACK_SUCCESS ||
            off != got[4].n || up.data.type != MSGPACK_OBJECT_MAP) {
            fail("reply header", "not one msgpack map");
        } else {
            int bad = 0;
            const msgpack_object *corr = header_get(&up.data, "corr", &bad);
            const msgpack_object *rkid = header_get(&up.data, "kid", &bad);
            const msgpack_object *alg = header_get(&up.data, "alg", &bad);
            const msgpack_object *ts = header_get(&up.data, "ts", &bad);
            if (bad) fail("reply header", "a float or a non-string key");
            if (!corr || corr->type != MSGPACK_OBJECT_BIN || corr->via.bin.size != 16 ||
                memcmp(corr->via.bin.ptr, req.id, 16) != 0)
                fail("reply header", "corr is not the id of our request");
            if (!rkid || rkid->type != MSGPACK_OBJECT_BIN || rkid->via.bin.size != 32 ||
                memcmp(rkid->via.bin.ptr, peer_kid.p, 32) != 0)
                fail("reply header", "kid does not name the peer's key");
            if (!alg || alg->type != MSGPACK_OBJECT_STR || alg->via.str.size != 17 ||
                memcmp(alg->via.str.ptr, "ecdsa-p256-sha256", 17) != 0)
                fail("reply header", "alg is not ecdsa-p256-sha256");
            if (!ts || ts->type != MSGPACK_OBJECT_POSITIVE_INTEGER) fail("reply header", "ts is not an integer");
            /* verify over the bytes as received: never re-encode the header */
            buf_t sb = signed_bytes(0x02, got[3], got[4], got[5]);
            if (!verifies(peer, sb, got[6].p, got[6].n)) fail("reply", "signature does not verify");
            sb.p[TAG_LEN + 5] ^= 1; /* the destination is covered */
            if (verifies(peer, sb, got[6].p, got[6].n)) fail("reply", "verifies for another destination");
        }
        msgpack_unpacked_destroy(&up);
        printf("reply body %.*s\n", (int)got[5].n, got[5].p);
    }
    zmq_close(sock);
    zmq_ctx_term(ctx);
    return failures ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc != 2 && argc != 4) {
        fprintf(stderr, "usage: %s VECTORS.json [ENDPOINT PEER_SPKI_HEX]\n", argv[0]);
        return 2;
    }
    char *json = read_file(argv[1]);
    if (!json) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 2;
    }
    if (argc == 4) {
        int rc = exchange(json, argv[2], argv[3]);
        if (!rc) printf("ok\n");
        return rc;
    }
    for (size_t i = 0; i < sizeof VECTOR_NAMES / sizeof *VECTOR_NAMES; i++) check_vector(json, VECTOR_NAMES[i]);
    const char *k = json_object(strstr(json, "\"keys\""), "p256");
    EVP_PKEY *key = private_key(json_hex(k, "private_pkcs8_der"));
    message_t evt = seal(key, json_hex(k, "kid"), 0x03, "mun-13-104", "asp-eltax-east/eltax", "signed in C");
    print_frames("frames", &evt);
    EVP_PKEY_free(key);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("ok %zu vectors\n", sizeof VECTOR_NAMES / sizeof *VECTOR_NAMES);
    return 0;
}
