/* A SimpleRNN in C speaking the conformance worker protocol (docs/protocol.md), standard library only.
 *
 *   make -C harnesses/c                      (or: gcc -O2 -std=c11 -o harness harness.c -lm)
 *   conformance smoke --target exec:harnesses/c/harness
 *   conformance run   --target exec:harnesses/c/harness
 *
 * A worked example for implementers, written from docs/protocol.md alone: one JSON object a line
 * on stdin, one answer a line on stdout. It implements the forward pass
 *
 *   h_t = activation(x_t . kernel + h_{t-1} . recurrent_kernel + bias)
 *
 * with masks, initial states, go_backwards, return_sequences, return_state, float32 and float64
 * layers, and the ops create, build, call, get_weights, set_weights and count_params. Everything
 * else is declared unsupported, in `started` (UNSUPPORTED, feature names) or per step.
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROTOCOL_VERSION 1

/* Features this harness cannot express at all: cases exercising one are reported unsupported. */
static const char *UNSUPPORTED[] = {
    "op:reset_states", "op:compute_output_shape", "op:compute_mask", "op:get_config", "op:from_config",
    "op:losses", "op:get_property", "op:apply_constraints", "op:gradients", "op:save_and_load",
    "op:connect", "op:call_method", "stateful", "dropout", "recurrent_dropout", "regularizer",
    "constraint", "initializer", "dtype:float16", "dtype:bfloat16", "dtype:mixed_float16",
    "dtype:mixed_bfloat16", "input_dtype:float16", "zero_timesteps", NULL};

/* ------------------------------------------------------------------ JSON values */

enum kind { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

typedef struct json {
    enum kind kind;
    double num;          /* J_NUM, J_BOOL (0 or 1) */
    int is_float;        /* J_NUM written with a fraction or exponent: 4.0 is no integer */
    char *str;           /* J_STR */
    size_t len;          /* J_ARR, J_OBJ: number of items */
    struct json **items; /* J_ARR, J_OBJ */
    char **keys;         /* J_OBJ */
} json;

static json *jnew(enum kind kind) {
    json *v = calloc(1, sizeof *v);
    v->kind = kind;
    return v;
}

static void jfree(json *v) {
    if (!v) return;
    for (size_t i = 0; i < v->len; i++) {
        jfree(v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    free(v);
}

static json *jget(const json *obj, const char *key) {
    if (!obj || obj->kind != J_OBJ) return NULL;
    for (size_t i = 0; i < obj->len; i++)
        if (strcmp(obj->keys[i], key) == 0) return obj->items[i];
    return NULL;
}

static int jnull(const json *v) { return v == NULL || v->kind == J_NULL; }

static const char *jstr(const json *v) { return v && v->kind == J_STR ? v->str : NULL; }

typedef struct { const char *p; int error; } parser;

static void skip(parser *ps) { while (isspace((unsigned char)*ps->p)) ps->p++; }

static json *parse_value(parser *ps, int depth);

static char *parse_string(parser *ps) {
    size_t cap = 16, n = 0;
    char *out = malloc(cap);
    ps->p++; /* the opening quote */
    while (*ps->p && *ps->p != '"') {
        unsigned code = (unsigned char)*ps->p++;
        if (code == '\\') {
            char c = *ps->p++;
            switch (c) {
            case 'n': code = '\n'; break;
            case 't': code = '\t'; break;
            case 'r': code = '\r'; break;
            case 'b': code = '\b'; break;
            case 'f': code = '\f'; break;
            case 'u':
                if (sscanf(ps->p, "%4x", &code) != 1) { ps->error = 1; free(out); return NULL; }
                ps->p += 4;
                break;
            case '\0': ps->error = 1; free(out); return NULL;
            default: code = (unsigned char)c;
            }
        }
        if (n + 4 >= cap) out = realloc(out, cap *= 2);
        if (code < 0x80) out[n++] = (char)code; /* UTF-8 for the BMP; surrogates kept as is */
        else if (code < 0x800) { out[n++] = (char)(0xC0 | code >> 6); out[n++] = (char)(0x80 | (code & 0x3F)); }
        else { out[n++] = (char)(0xE0 | code >> 12); out[n++] = (char)(0x80 | ((code >> 6) & 0x3F));
               out[n++] = (char)(0x80 | (code & 0x3F)); }
    }
    if (*ps->p != '"') { ps->error = 1; free(out); return NULL; }
    ps->p++;
    out[n] = '\0';
    return out;
}

static void append(json *v, char *key, json *item) {
    v->items = realloc(v->items, (v->len + 1) * sizeof *v->items);
    if (v->kind == J_OBJ) v->keys = realloc(v->keys, (v->len + 1) * sizeof *v->keys), v->keys[v->len] = key;
    v->items[v->len++] = item;
}

static json *parse_value(parser *ps, int depth) {
    skip(ps);
    if (depth > 64) { ps->error = 1; return NULL; }
    const char *p = ps->p;
    json *v;
    if (*p == '{' || *p == '[') {
        int object = *p == '{';
        v = jnew(object ? J_OBJ : J_ARR);
        ps->p++;
        skip(ps);
        if (*ps->p == (object ? '}' : ']')) { ps->p++; return v; }
        for (;;) {
            char *key = NULL;
            skip(ps);
            if (object) {
                if (*ps->p != '"' || !(key = parse_string(ps))) { ps->error = 1; jfree(v); return NULL; }
                skip(ps);
                if (*ps->p++ != ':') { ps->error = 1; free(key); jfree(v); return NULL; }
            }
            json *item = parse_value(ps, depth + 1);
            if (!item) { free(key); jfree(v); return NULL; }
            append(v, key, item);
            skip(ps);
            if (*ps->p == ',') { ps->p++; continue; }
            if (*ps->p == (object ? '}' : ']')) { ps->p++; return v; }
            ps->error = 1;
            jfree(v);
            return NULL;
        }
    }
    if (*p == '"') {
        char *s = parse_string(ps);
        if (!s) return NULL;
        v = jnew(J_STR);
        v->str = s;
        return v;
    }
    if (strncmp(p, "true", 4) == 0) { ps->p += 4; v = jnew(J_BOOL); v->num = 1; return v; }
    if (strncmp(p, "false", 5) == 0) { ps->p += 5; return jnew(J_BOOL); }
    if (strncmp(p, "null", 4) == 0) { ps->p += 4; return jnew(J_NULL); }
    /* The runner may write NaN, Infinity and -Infinity as numbers (docs/protocol.md). */
    if (strncmp(p, "NaN", 3) == 0) { ps->p += 3; v = jnew(J_NUM); v->num = NAN; return v; }
    if (strncmp(p, "Infinity", 8) == 0) { ps->p += 8; v = jnew(J_NUM); v->num = INFINITY; return v; }
    if (strncmp(p, "-Infinity", 9) == 0) { ps->p += 9; v = jnew(J_NUM); v->num = -INFINITY; return v; }
    char *end;
    double number = strtod(p, &end);
    if (end == p) { ps->error = 1; return NULL; }
    v = jnew(J_NUM);
    v->num = number;
    for (const char *c = p; c < end; c++) v->is_float |= *c == '.' || *c == 'e' || *c == 'E';
    ps->p = end;
    return v;
}

static json *parse(const char *text) {
    parser ps = {text, 0};
    json *v = parse_value(&ps, 0);
    skip(&ps);
    if (ps.error || *ps.p) { jfree(v); return NULL; }
    return v;
}

/* ------------------------------------------------------------------ output */

typedef struct { char *s; size_t n, cap; } buffer;

static void put(buffer *b, const char *fmt, ...) {
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int need = vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        if ((size_t)need < b->cap - b->n) { b->n += need; return; }
        b->cap = (b->cap + need + 1) * 2;
        b->s = realloc(b->s, b->cap);
    }
}

static void put_string(buffer *b, const char *s) {
    put(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') put(b, "\\%c", c);
        else if (c < 0x20) put(b, "\\u%04x", c);
        else put(b, "%c", c);
    }
    put(b, "\"");
}

static void send_line(buffer *b) {
    fwrite(b->s, 1, b->n, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    b->n = 0;
}

static void fatal(const char *message) {
    buffer b = {0};
    put(&b, "{\"type\":\"fatal\",\"message\":");
    put_string(&b, message);
    put(&b, "}");
    send_line(&b);
    free(b.s);
}

/* ------------------------------------------------------------------ arrays on the wire */

typedef struct { int ndim; long shape[8]; long size; double *v; char dtype[16]; } array;

static int b64value(int c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

static unsigned char *b64decode(const char *s, size_t *out_len) {
    size_t n = strlen(s);
    unsigned char *out = malloc(n / 4 * 3 + 3);
    size_t o = 0;
    int acc = 0, bits = 0;
    for (size_t i = 0; i < n && s[i] != '='; i++) {
        int v = b64value(s[i]);
        if (v < 0) { free(out); return NULL; }
        acc = (acc << 6) | v;
        bits += 6;
        if (bits >= 8) { bits -= 8; out[o++] = (unsigned char)((acc >> bits) & 0xFF); }
    }
    *out_len = o;
    return out;
}

static void b64encode(buffer *b, const unsigned char *data, size_t n) {
    static const char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = data[i] << 16 | (i + 1 < n ? data[i + 1] << 8 : 0) | (i + 2 < n ? data[i + 2] : 0);
        put(b, "%c%c%c%c", table[v >> 18 & 63], table[v >> 12 & 63],
            i + 1 < n ? table[v >> 6 & 63] : '=', i + 2 < n ? table[v & 63] : '=');
    }
}

/* Little-endian reads, whatever the machine's byte order. */
static uint64_t read_le(const unsigned char *p, int size) {
    uint64_t v = 0;
    for (int i = size - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static double half_to_double(unsigned h) {
    int e = (h >> 10) & 0x1F, f = h & 0x3FF;
    double s = (h & 0x8000) ? -1 : 1;
    if (e == 0) return s * ldexp(f, -24);
    if (e == 31) return f ? NAN : s * INFINITY;
    return s * ldexp(f + 1024, e - 25);
}

/* Decode {"__ndarray__": {...}}; on failure, write why into `why` and return 0. */
static int decode_array(const json *v, array *a, char *why, size_t why_len) {
    const json *spec = jget(v, "__ndarray__");
    const char *dtype = jstr(jget(spec, "dtype"));
    const char *wire = jstr(jget(spec, "wire_dtype"));
    const json *shape = jget(spec, "shape");
    const char *data = jstr(jget(spec, "data"));
    if (!dtype || !shape || shape->kind != J_ARR || !data || shape->len > 8) {
        snprintf(why, why_len, "not an array");
        return 0;
    }
    if (!wire) wire = dtype;
    static const struct { const char *name; int size; } WIRE[] = {
        {"bool", 1}, {"int8", 1}, {"uint8", 1}, {"int16", 2}, {"int32", 4}, {"int64", 8},
        {"float16", 2}, {"float32", 4}, {"float64", 8}};
    int size = 0;
    for (size_t i = 0; i < sizeof WIRE / sizeof *WIRE; i++)
        if (strcmp(WIRE[i].name, wire) == 0) size = WIRE[i].size;
    if (!size) { snprintf(why, why_len, "unknown wire_dtype %s", wire); return 0; }
    a->ndim = (int)shape->len;
    a->size = 1;
    for (int i = 0; i < a->ndim; i++) a->size *= a->shape[i] = (long)shape->items[i]->num;
    size_t n;
    unsigned char *bytes = b64decode(data, &n);
    if (!bytes || n != (size_t)a->size * size) {
        snprintf(why, why_len, "%s array of shape [%ld...] needs %ld bytes, got %zu", wire,
                 a->ndim ? a->shape[0] : 0, a->size * size, bytes ? n : 0);
        free(bytes);
        return 0;
    }
    a->v = malloc((a->size ? a->size : 1) * sizeof(double));
    for (long i = 0; i < a->size; i++) {
        uint64_t raw = read_le(bytes + i * size, size);
        double x;
        if (!strcmp(wire, "float64")) { double d; memcpy(&d, &raw, 8); x = d; }
        else if (!strcmp(wire, "float32")) { uint32_t r = (uint32_t)raw; float f; memcpy(&f, &r, 4); x = f; }
        else if (!strcmp(wire, "float16")) x = half_to_double((unsigned)raw);
        else if (!strcmp(wire, "int8")) x = (int8_t)raw;
        else if (!strcmp(wire, "int16")) x = (int16_t)raw;
        else if (!strcmp(wire, "int32")) x = (int32_t)raw;
        else if (!strcmp(wire, "int64")) x = (double)(int64_t)raw;
        else x = (double)raw; /* bool, uint8 */
        a->v[i] = x;
    }
    free(bytes);
    snprintf(a->dtype, sizeof a->dtype, "%s", dtype);
    return 1;
}

/* Write values as an array of `dtype` (float32 or float64), little-endian. */
static void put_array(buffer *b, const double *v, int ndim, const long *shape, const char *dtype) {
    long size = 1;
    for (int i = 0; i < ndim; i++) size *= shape[i];
    int wide = strcmp(dtype, "float64") == 0;
    int item = wide ? 8 : 4;
    unsigned char *bytes = malloc(size * item + 1);
    for (long i = 0; i < size; i++) {
        uint64_t raw;
        if (wide) memcpy(&raw, &v[i], 8);
        else { float f = (float)v[i]; uint32_t r; memcpy(&r, &f, 4); raw = r; }
        for (int k = 0; k < item; k++) bytes[i * item + k] = (unsigned char)(raw >> (8 * k));
    }
    put(b, "{\"__ndarray__\":{\"dtype\":\"%s\",\"wire_dtype\":\"%s\",\"shape\":[", dtype, wide ? "float64" : "float32");
    for (int i = 0; i < ndim; i++) put(b, i ? ",%ld" : "%ld", shape[i]);
    put(b, "],\"data\":\"");
    b64encode(b, bytes, size * item);
    put(b, "\"}}");
    free(bytes);
}

/* ------------------------------------------------------------------ the layer */

typedef double (*activation_fn)(double);

static double act_linear(double x) { return x; }
static double act_tanh(double x) { return tanh(x); }
static double act_relu(double x) { return x > 0 ? x : 0; }
static double act_sigmoid(double x) { return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); }
static double act_softsign(double x) { return x / (1 + fabs(x)); }
static double act_elu(double x) { return x > 0 ? x : expm1(x); }
static double act_exponential(double x) { return exp(x); }
/* hard_sigmoid differs between the profiles: Keras 3 relu6(x + 3) / 6, Keras 2 clip(0.2 x + 0.5). */
static double act_hard_sigmoid3(double x) { double y = x / 6 + 0.5; return y < 0 ? 0 : y > 1 ? 1 : y; }
static double act_hard_sigmoid2(double x) { double y = 0.2 * x + 0.5; return y < 0 ? 0 : y > 1 ? 1 : y; }

static char PROFILE[16] = "keras3";

static activation_fn activation_named(const char *name) {
    if (!name || !strcmp(name, "linear")) return act_linear;
    if (!strcmp(name, "tanh")) return act_tanh;
    if (!strcmp(name, "relu")) return act_relu;
    if (!strcmp(name, "sigmoid")) return act_sigmoid;
    if (!strcmp(name, "softsign")) return act_softsign;
    if (!strcmp(name, "elu")) return act_elu;
    if (!strcmp(name, "exponential")) return act_exponential;
    if (!strcmp(name, "hard_sigmoid")) return strcmp(PROFILE, "keras2") ? act_hard_sigmoid3 : act_hard_sigmoid2;
    return NULL;
}

typedef struct {
    int exists;
    long units, input_dim;          /* input_dim 0: not built */
    int use_bias, return_sequences, return_state, go_backwards;
    char dtype[16];                 /* float32 or float64 */
    activation_fn activation;
    double *kernel, *recurrent, *bias;
} layer;

static layer L;

/* What a step answers: an `ok` value (written into `ok`), an exception, or unsupported. */
enum outcome { STEP_OK, STEP_RAISED, STEP_UNSUPPORTED };
typedef struct { char type[32]; char message[256]; } raised;

static enum outcome raise(raised *r, const char *type, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    snprintf(r->type, sizeof r->type, "%s", type);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
    return STEP_RAISED;
}

static enum outcome unsupported(raised *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
    return STEP_UNSUPPORTED;
}

/* A float32 layer holds float32 values. */
static double store(double x) { return strcmp(L.dtype, "float64") ? (double)(float)x : x; }

/* A small deterministic generator for the initial weights (glorot_uniform kernel, orthogonal
 * recurrent kernel, zero bias: the Keras defaults); cases that compare weights set them. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double uniform01(void) {
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return (rng_state >> 11) * (1.0 / 9007199254740992.0);
}

static void initialize_weights(void) {
    long F = L.input_dim, U = L.units;
    double limit = sqrt(6.0 / (F + U));
    L.kernel = realloc(L.kernel, F * U * sizeof(double));
    L.recurrent = realloc(L.recurrent, U * U * sizeof(double));
    L.bias = realloc(L.bias, U * sizeof(double));
    for (long i = 0; i < F * U; i++) L.kernel[i] = store((2 * uniform01() - 1) * limit);
    /* Orthogonal: Gram-Schmidt on random rows. */
    for (long i = 0; i < U; i++) {
        double *row = L.recurrent + i * U;
        for (;;) {
            for (long k = 0; k < U; k++) row[k] = 2 * uniform01() - 1;
            for (long j = 0; j < i; j++) {
                double dot = 0, *other = L.recurrent + j * U;
                for (long k = 0; k < U; k++) dot += row[k] * other[k];
                for (long k = 0; k < U; k++) row[k] -= dot * other[k];
            }
            double norm = 0;
            for (long k = 0; k < U; k++) norm += row[k] * row[k];
            if (norm > 1e-6) { for (long k = 0; k < U; k++) row[k] /= sqrt(norm); break; }
        }
    }
    for (long i = 0; i < U * U; i++) L.recurrent[i] = store(L.recurrent[i]);
    for (long i = 0; i < U; i++) L.bias[i] = 0;
}

static int named(const char *name, const char *const *names) {
    for (int k = 0; name && names[k]; k++)
        if (!strcmp(name, names[k])) return 1;
    return 0;
}

/* null, a known short name, or {"class_name": a known class}: else Keras raises ValueError. */
static int known_object(const json *v, const char *const *names) {
    if (jnull(v)) return 1;
    if (v->kind == J_STR) return named(v->str, names);
    return v->kind == J_OBJ && named(jstr(jget(v, "class_name")), names);
}

static const char *const INITIALIZERS[] = {
    "zeros", "ones", "constant", "identity", "random_normal", "random_uniform", "variance_scaling",
    "orthogonal", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform",
    "lecun_normal", "Zeros", "Ones", "Constant", "Identity", "RandomNormal", "RandomUniform",
    "VarianceScaling", "Orthogonal", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal",
    "LecunUniform", "LecunNormal", NULL};
static const char *const REGULARIZERS[] = {"l1", "l2", "l1_l2", "L1", "L2", "L1L2", NULL};
static const char *const CONSTRAINTS[] = {"non_neg", "max_norm", "unit_norm", "min_max_norm", "NonNeg",
                                          "MaxNorm", "UnitNorm", "MinMaxNorm", NULL};

static enum outcome op_create(const json *args, raised *r) {
    const json *config = jget(args, "layer");
    memset(&L, 0, sizeof L);
    /* The constructor arguments of the Keras pages (docs/protocol.md, `create`). */
    static const char *const KNOWN[] = {
        "units", "activation", "use_bias", "kernel_initializer", "recurrent_initializer", "bias_initializer",
        "kernel_regularizer", "recurrent_regularizer", "bias_regularizer", "activity_regularizer",
        "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout", "recurrent_dropout",
        "return_sequences", "return_state", "go_backwards", "stateful", "unroll", "seed", "dtype", "name",
        "trainable", NULL};
    for (size_t i = 0; config && i < config->len; i++) {
        const char *key = config->keys[i];
        if (!named(key, KNOWN)) return raise(r, "TypeError", "unrecognized keyword argument: %s", key);
        const json *v = config->items[i];
        const char *end = strrchr(key, '_') ? strrchr(key, '_') + 1 : key;
        if ((!strcmp(end, "initializer") && !known_object(v, INITIALIZERS)) ||
            (!strcmp(end, "regularizer") && !known_object(v, REGULARIZERS)) ||
            (!strcmp(end, "constraint") && !known_object(v, CONSTRAINTS)))
            return raise(r, "ValueError", "unknown %s for %s", end, key);
    }
    const json *units = jget(config, "units");
    if (!units || units->kind != J_NUM) return raise(r, "TypeError", "units must be a positive integer");
    if (units->is_float || units->num <= 0)
        return raise(r, "ValueError", "units must be a positive integer, got %g", units->num);
    L.units = (long)units->num;
    const json *activation = jget(config, "activation");
    /* A name, null (linear), or {"callable": name} for a function given instead of a name. */
    const char *name = activation == NULL ? "tanh" : jnull(activation) ? NULL
                     : activation->kind == J_OBJ ? jstr(jget(activation, "callable")) : jstr(activation);
    if (activation && !jnull(activation) && !name) return raise(r, "ValueError", "unknown activation");
    if (!(L.activation = activation_named(name))) return raise(r, "ValueError", "unknown activation: %s", name);
    const json *flag;
    L.use_bias = !(flag = jget(config, "use_bias")) || flag->kind != J_BOOL || flag->num;
    L.return_sequences = (flag = jget(config, "return_sequences")) && flag->num;
    L.return_state = (flag = jget(config, "return_state")) && flag->num;
    L.go_backwards = (flag = jget(config, "go_backwards")) && flag->num;
    const json *policy = jget(config, "dtype");
    const char *dtype = policy && policy->kind == J_OBJ ? jstr(jget(jget(policy, "config"), "name")) : jstr(policy);
    snprintf(L.dtype, sizeof L.dtype, "%s", dtype ? dtype : "float32");
    if (strcmp(L.dtype, "float32") && strcmp(L.dtype, "float64")) return unsupported(r, "dtype %s", L.dtype);
    L.exists = 1;
    return STEP_OK;
}

static enum outcome build_for(long input_dim, raised *r) {
    (void)r;
    if (L.input_dim == input_dim) return STEP_OK;
    L.input_dim = input_dim;
    initialize_weights();
    return STEP_OK;
}

static enum outcome op_build(const json *args, raised *r) {
    const json *shape = jget(args, "input_shape");
    if (!shape || shape->kind != J_ARR || shape->len != 3)
        return raise(r, "ValueError", "expected an input shape of rank 3 (batch, timesteps, features)");
    const json *features = shape->items[2];
    if (jnull(features)) return raise(r, "ValueError", "the last dimension of the inputs must be known");
    return build_for((long)features->num, r);
}

static enum outcome op_call(const json *args, buffer *ok, raised *r) {
    char why[160];
    array x = {0}, mask = {0}, h0 = {0};
    enum outcome result = STEP_OK;
    if (!decode_array(jget(args, "inputs"), &x, why, sizeof why)) return raise(r, "ValueError", "inputs: %s", why);
    const json *m = jget(args, "mask"), *state = jget(args, "initial_state");
    if (x.ndim != 3) { result = raise(r, "ValueError", "expected inputs of rank 3, got rank %d", x.ndim); goto done; }
    long B = x.shape[0], T = x.shape[1], F = x.shape[2], U = L.units;
    if (L.input_dim && L.input_dim != F) {
        result = raise(r, "ValueError", "the layer was built for %ld features, got %ld", L.input_dim, F);
        goto done;
    }
    build_for(F, r);
    if (!jnull(m)) {
        if (!decode_array(m, &mask, why, sizeof why)) { result = raise(r, "ValueError", "mask: %s", why); goto done; }
        if (mask.ndim != 2 || mask.shape[0] != B || mask.shape[1] != T) {
            result = raise(r, "ValueError", "the mask must be (batch, timesteps)");
            goto done;
        }
    }
    if (!jnull(state)) {
        if (state->kind != J_ARR || state->len != 1) {
            result = raise(r, "ValueError", "initial_state must be a list of one array, got %zu", state->len);
            goto done;
        }
        if (!decode_array(state->items[0], &h0, why, sizeof why)) {
            result = raise(r, "ValueError", "initial_state: %s", why);
            goto done;
        }
        if (h0.ndim != 2 || h0.shape[0] != B || h0.shape[1] != U) {
            result = raise(r, "ValueError", "an initial state of shape (%ld, %ld) is expected", B, U);
            goto done;
        }
    }
    /* The recurrence in float64; a masked step repeats the previous output and keeps the state
     * (zeros before the first unmasked step). go_backwards: the output is in processing order. */
    double *h = calloc(B * U, sizeof(double)), *out = calloc(B * U, sizeof(double));
    double *z = malloc((U ? U : 1) * sizeof(double));
    double *sequence = malloc((B * T * U > 0 ? B * T * U : 1) * sizeof(double));
    if (h0.v) for (long i = 0; i < B * U; i++) h[i] = h0.v[i];
    for (long i = 0; i < T; i++) {
        long t = L.go_backwards ? T - 1 - i : i;
        for (long b = 0; b < B; b++) {
            int keep = !mask.v || mask.v[b * T + t] != 0;
            if (keep) {
                for (long u = 0; u < U; u++) {
                    double s = L.use_bias ? L.bias[u] : 0;
#ifdef PLANT_BUG
                    s += L.use_bias ? L.bias[u] : 0; /* the bias added twice: tests/test_harness_c.py plants it */
#endif
                    for (long f = 0; f < F; f++) s += x.v[(b * T + t) * F + f] * L.kernel[f * U + u];
                    for (long k = 0; k < U; k++) s += h[b * U + k] * L.recurrent[k * U + u];
                    z[u] = L.activation(s);
                }
                for (long u = 0; u < U; u++) h[b * U + u] = out[b * U + u] = z[u];
            }
            for (long u = 0; u < U; u++) sequence[(b * T + i) * U + u] = out[b * U + u];
        }
    }
    put(ok, "[");
    if (L.return_sequences) put_array(ok, sequence, 3, (long[]){B, T, U}, L.dtype);
    else put_array(ok, out, 2, (long[]){B, U}, L.dtype);
    if (L.return_state) put(ok, ","), put_array(ok, h, 2, (long[]){B, U}, L.dtype);
    put(ok, "]");
    free(h); free(out); free(z); free(sequence);
done:
    free(x.v); free(mask.v); free(h0.v);
    return result;
}

static enum outcome op_get_weights(buffer *ok) {
    put(ok, "[");
    if (L.input_dim) {
        put_array(ok, L.kernel, 2, (long[]){L.input_dim, L.units}, L.dtype);
        put(ok, ",");
        put_array(ok, L.recurrent, 2, (long[]){L.units, L.units}, L.dtype);
        if (L.use_bias) put(ok, ","), put_array(ok, L.bias, 1, (long[]){L.units}, L.dtype);
    }
    put(ok, "]");
    return STEP_OK;
}

static enum outcome op_set_weights(const json *args, raised *r) {
    const json *weights = jget(args, "weights");
    size_t want = L.use_bias ? 3 : 2;
    char why[160];
    if (!L.input_dim) return raise(r, "ValueError", "set_weights on a layer that has no weights yet (build it first)");
    if (!weights || weights->kind != J_ARR || weights->len != want)
        return raise(r, "ValueError", "expected %zu weights, got %zu", want, weights ? weights->len : 0);
    array w[3] = {{0}};
    enum outcome result = STEP_OK;
    for (size_t i = 0; i < want; i++)
        if (!decode_array(weights->items[i], &w[i], why, sizeof why)) { result = raise(r, "ValueError", "%s", why); goto done; }
    if (w[0].ndim != 2 || w[1].ndim != 2 || w[0].shape[1] != L.units || w[1].shape[0] != L.units ||
        w[1].shape[1] != L.units || (L.use_bias && (w[2].ndim != 1 || w[2].shape[0] != L.units)) ||
        (L.input_dim && w[0].shape[0] != L.input_dim)) {
        result = raise(r, "ValueError", "the weights' shapes do not match the layer");
        goto done;
    }
    build_for(w[0].shape[0], r);
    for (long i = 0; i < w[0].size; i++) L.kernel[i] = store(w[0].v[i]);
    for (long i = 0; i < w[1].size; i++) L.recurrent[i] = store(w[1].v[i]);
    for (long i = 0; L.use_bias && i < w[2].size; i++) L.bias[i] = store(w[2].v[i]);
done:
    for (size_t i = 0; i < 3; i++) free(w[i].v);
    return result;
}

static enum outcome op_count_params(buffer *ok, raised *r) {
    if (!L.input_dim) return raise(r, "ValueError", "the layer is not built yet");
    put(ok, "%ld", L.input_dim * L.units + L.units * L.units + (L.use_bias ? L.units : 0));
    return STEP_OK;
}

/* ------------------------------------------------------------------ the protocol loop */

static void run_case(const json *message, buffer *out) {
    const json *c = jget(message, "case");
    const json *features = jget(c, "features"), *steps = jget(c, "steps");
    const json *seq = jget(message, "seq");
    long seq_value = seq ? (long)seq->num : 0;
    /* A case that needs a declared-unsupported feature: say so for the whole case. */
    for (size_t i = 0; features && i < features->len; i++)
        for (int k = 0; UNSUPPORTED[k]; k++)
            if (jstr(features->items[i]) && !strcmp(features->items[i]->str, UNSUPPORTED[k])) {
                put(out, "{\"type\":\"result\",\"seq\":%ld,\"unsupported\":"
                         "\"the C harness declares unsupported: %s\"}", seq_value, UNSUPPORTED[k]);
                return;
            }
    put(out, "{\"type\":\"result\",\"seq\":%ld,\"steps\":[", seq_value);
    int have_layer = 1;
    buffer ok = {0};
    for (size_t i = 0; steps && i < steps->len; i++) {
        const json *step = steps->items[i], *args = jget(step, "args");
        const char *op = jstr(jget(step, "op"));
        if (i) put(out, ",");
        if (!have_layer) { put(out, "{\"skipped\":\"the layer could not be created\"}"); continue; }
        raised r = {{0}, {0}};
        enum outcome outcome;
        ok.n = 0; /* an op that writes nothing answers null */
        if (!op) outcome = unsupported(&r, "a step without an op");
        else if (!strcmp(op, "create")) outcome = op_create(args, &r);
        else if (!L.exists) outcome = unsupported(&r, "no layer");
        else if (!strcmp(op, "build")) outcome = op_build(args, &r);
        else if (!strcmp(op, "call")) outcome = op_call(args, &ok, &r);
        else if (!strcmp(op, "get_weights")) outcome = op_get_weights(&ok);
        else if (!strcmp(op, "set_weights")) outcome = op_set_weights(args, &r);
        else if (!strcmp(op, "count_params")) outcome = op_count_params(&ok, &r);
        else outcome = unsupported(&r, "op %s", op);
        if (outcome == STEP_OK) {
            if (ok.n) put(out, "{\"ok\":%.*s}", (int)ok.n, ok.s);
            else put(out, "{\"ok\":null}");
        } else if (outcome == STEP_RAISED) {
            put(out, "{\"raised\":{\"type\":");
            put_string(out, r.type);
            put(out, ",\"types\":[");
            put_string(out, r.type);
            put(out, ",\"Exception\"],\"message\":");
            put_string(out, r.message);
            put(out, "}}");
            if (op && !strcmp(op, "create")) have_layer = 0;
        } else {
            put(out, "{\"unsupported\":");
            put_string(out, r.message);
            put(out, "}");
            break; /* no more observations after an unsupported step */
        }
    }
    free(ok.s);
    put(out, "]}");
}

int main(void) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    buffer out = {0};
    while ((n = getline(&line, &cap, stdin)) > 0) {
        json *message = parse(line);
        if (!message) { fatal("the line is not JSON"); return 1; }
        const char *type = jstr(jget(message, "type"));
        if (type && !strcmp(type, "start")) {
            const json *protocol = jget(message, "protocol");
            if (!protocol || protocol->num != PROTOCOL_VERSION) {
                fatal("the runner speaks another protocol; this harness speaks protocol 1");
                return 1;
            }
            const char *profile = jstr(jget(jget(message, "target"), "profile"));
            snprintf(PROFILE, sizeof PROFILE, "%s", profile ? profile : "keras3");
            put(&out, "{\"type\":\"started\",\"protocol\":%d,\"implementation\":{\"name\":\"c-simplernn\","
                      "\"profile\":", PROTOCOL_VERSION);
            put_string(&out, PROFILE);
            put(&out, ",\"versions\":{\"c-simplernn\":\"1.0\"}},\"unsupported\":[");
            for (int k = 0; UNSUPPORTED[k]; k++) put(&out, k ? ",\"%s\"" : "\"%s\"", UNSUPPORTED[k]);
            put(&out, "]}");
            send_line(&out);
        } else if (type && !strcmp(type, "run")) {
            /* Decode every array first: a malformed one is a fatal error, not a result. */
            char why[200];
            const json *steps = jget(jget(message, "case"), "steps");
            for (size_t i = 0; steps && i < steps->len; i++) {
                const json *args = jget(steps->items[i], "args");
                for (size_t k = 0; args && k < args->len; k++) {
                    const json *v = args->items[k];
                    const json *list[64];
                    size_t count = 0;
                    if (v->kind == J_ARR) for (size_t j = 0; j < v->len && count < 64; j++) list[count++] = v->items[j];
                    else list[count++] = v;
                    for (size_t j = 0; j < count; j++) {
                        array a = {0};
                        if (jget(list[j], "__ndarray__") && !decode_array(list[j], &a, why, sizeof why)) {
                            char message_text[300];
                            snprintf(message_text, sizeof message_text, "cannot decode argument %s: %s", args->keys[k], why);
                            fatal(message_text);
                            return 1;
                        }
                        free(a.v);
                    }
                }
            }
            run_case(message, &out);
            send_line(&out);
        } else if (type && !strcmp(type, "stop")) {
            jfree(message);
            break;
        } else {
            fatal("unknown message type");
            return 1;
        }
        jfree(message);
    }
    free(line);
    free(out.s);
    return 0;
}
