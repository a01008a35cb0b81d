/*
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) for Node.js through N-API.
 *
 * Three engines, chosen once at load time by CPU detection:
 *   - "fold": AVX-512 + VPCLMULQDQ carry-less folding of 64-byte lanes (large inputs), with
 *     the 3-way crc32 engine below for the rest;
 *   - "3way": the SSE4.2 crc32 instruction run as three independent streams over the
 *     thirds of a block, the three partial CRCs joined by a PCLMULQDQ shift;
 *   - "table": portable slice-by-8 tables (any CPU, any compiler).
 *
 * All engines work on the raw CRC register (no inversion); the exported entry points
 * apply the usual pre/post inversion, so crc32c("123456789") == 0xE3069283 and
 * crc32c(b, crc32c(a)) == crc32c(a || b).
 *
 * Math used for joining streams: with the register r after some prefix, running the
 * register over L more zero bytes gives r * x^(8L) mod P (in the bit-reflected domain).
 * A 32x32 carry-less product of reflected values a and b, read as a reflected 64-bit value,
 * is a*b*x; feeding those 64 bits through the crc32 instruction (register 0) multiplies by
 * x^32 and reduces mod P. So shift(r, L) = crc32_u64(0, clmul(r, x^(8L-33) mod P)).
 */
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define POLY 0x82F63B78u

/* ---------------------------------------------------------------- portable tables */

static uint32_t tbl[8][256];

static void init_tables(void) {
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
    tbl[0][n] = c;
  }
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = tbl[0][n];
    for (int k = 1; k < 8; k++) {
      c = tbl[0][c & 0xff] ^ (c >> 8);
      tbl[k][n] = c;
    }
  }
}

static uint32_t load_le32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint32_t crc_table(uint32_t crc, const uint8_t *p, size_t n) {
  while (n >= 8) {
    uint32_t lo = load_le32(p) ^ crc;
    crc = tbl[7][lo & 0xff] ^ tbl[6][(lo >> 8) & 0xff] ^ tbl[5][(lo >> 16) & 0xff] ^ tbl[4][lo >> 24] ^
          tbl[3][p[4]] ^ tbl[2][p[5]] ^ tbl[1][p[6]] ^ tbl[0][p[7]];
    p += 8;
    n -= 8;
  }
  while (n--) crc = tbl[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return crc;
}

/* x^n mod P in the reflected domain (0x80000000 is the polynomial 1). */
static uint32_t xpow_mod(uint64_t n) {
  uint32_t v = 0x80000000u;
  while (n--) v = (v & 1) ? (v >> 1) ^ POLY : v >> 1;
  return v;
}

typedef uint32_t (*crc_fn)(uint32_t crc, const uint8_t *p, size_t n);
static crc_fn engine = crc_table;
static const char *engine_name = "table";

/* Every engine this CPU can run, best last (for tests through withEngine). */
#define MAX_ENGINES 3
static crc_fn engines[MAX_ENGINES] = {crc_table};
static const char *engine_names[MAX_ENGINES] = {"table"};
static int engine_count = 1;

static void add_engine(crc_fn fn, const char *name) {
  engines[engine_count] = fn;
  engine_names[engine_count++] = name;
  engine = fn;
  engine_name = name;
}

/* ---------------------------------------------------------------- x86-64 engines */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define HW __attribute__((target("sse4.2,pclmul")))
#define HW512 __attribute__((target("sse4.2,pclmul,avx512f,avx512bw,avx512vl,vpclmulqdq")))

/* Stream lengths (bytes per stream) of the 3-way tiers and their shift constants. */
#define L_BIG 4096
#define L_MID 256
#define L_SMALL 64
static uint64_t k_big, k_mid, k_small;

static HW inline uint32_t shift_crc(uint32_t crc, uint64_t k) {
  __m128i prod = _mm_clmulepi64_si128(_mm_cvtsi32_si128((int)crc), _mm_cvtsi64_si128((long long)k), 0x00);
  return (uint32_t)_mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(prod));
}

static HW inline uint64_t ld64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

/* One block of 3*len bytes: three streams, joined by two shifts. len is a multiple of 8. */
static HW inline uint32_t block3(uint32_t crc, const uint8_t *p, size_t len, uint64_t k) {
  uint64_t a = crc, b = 0, c = 0;
  const uint8_t *q = p + len, *r = p + 2 * len;
  for (size_t i = 0; i < len; i += 8) {
    a = _mm_crc32_u64(a, ld64(p + i));
    b = _mm_crc32_u64(b, ld64(q + i));
    c = _mm_crc32_u64(c, ld64(r + i));
  }
  return shift_crc(shift_crc((uint32_t)a, k) ^ (uint32_t)b, k) ^ (uint32_t)c;
}

static HW uint32_t crc_3way(uint32_t crc, const uint8_t *p, size_t n) {
  /* Align to 8 bytes so every 64-bit load is aligned. */
  while (n > 0 && ((uintptr_t)p & 7)) {
    crc = _mm_crc32_u8(crc, *p++);
    n--;
  }
  while (n >= 3 * L_BIG) {
    crc = block3(crc, p, L_BIG, k_big);
    p += 3 * L_BIG;
    n -= 3 * L_BIG;
  }
  while (n >= 3 * L_MID) {
    crc = block3(crc, p, L_MID, k_mid);
    p += 3 * L_MID;
    n -= 3 * L_MID;
  }
  while (n >= 3 * L_SMALL) {
    crc = block3(crc, p, L_SMALL, k_small);
    p += 3 * L_SMALL;
    n -= 3 * L_SMALL;
  }
  uint64_t c64 = crc;
  while (n >= 8) {
    c64 = _mm_crc32_u64(c64, ld64(p));
    p += 8;
    n -= 8;
  }
  crc = (uint32_t)c64;
  while (n--) crc = _mm_crc32_u8(crc, *p++);
  return crc;
}

/*
 * AVX-512 folding. Four 512-bit accumulators (256 bytes per round) hold the message modulo
 * P "in flight": folding a 128-bit lane forward by D bits is lo64*(x^(D+32) mod P) ^
 * hi64*(x^(D-32) mod P) in the reflected domain (the extra x^-1 of reflected clmul and the
 * x^32 of the final crc32 pass cancel into those exponents). When the input is exhausted the
 * accumulators are folded into one 128-bit value, which is congruent to everything read so far
 * and is finished by feeding its 16 bytes through the crc32 instruction.
 */
static uint64_t kf_256[2], kf_64[2], kf_16[2];

/* Constant for a reflected 64-bit clmul operand: x^e mod P, reflected to 33 bits -> shifted. */
static uint64_t fold_const(uint64_t e) { return (uint64_t)xpow_mod(e) << 1; }

static HW512 inline __m512i fold512(__m512i acc, __m512i data, __m512i k) {
  __m512i lo = _mm512_clmulepi64_epi128(acc, k, 0x00);
  __m512i hi = _mm512_clmulepi64_epi128(acc, k, 0x11);
  return _mm512_ternarylogic_epi64(lo, hi, data, 0x96);
}

static HW512 inline __m128i fold128(__m128i acc, __m128i data, __m128i k) {
  __m128i lo = _mm_clmulepi64_si128(acc, k, 0x00);
  __m128i hi = _mm_clmulepi64_si128(acc, k, 0x11);
  return _mm_xor_si128(_mm_xor_si128(lo, hi), data);
}

#define FOLD_MIN 256

static HW512 uint32_t crc_fold(uint32_t crc, const uint8_t *p, size_t n) {
  if (n < FOLD_MIN) return crc_3way(crc, p, n);
  __m512i k256 = _mm512_broadcast_i32x4(_mm_set_epi64x((long long)kf_256[1], (long long)kf_256[0]));
  __m512i x0 = _mm512_loadu_si512((const void *)p);
  __m512i x1 = _mm512_loadu_si512((const void *)(p + 64));
  __m512i x2 = _mm512_loadu_si512((const void *)(p + 128));
  __m512i x3 = _mm512_loadu_si512((const void *)(p + 192));
  x0 = _mm512_xor_si512(x0, _mm512_castsi128_si512(_mm_cvtsi32_si128((int)crc)));
  p += 256;
  n -= 256;
  while (n >= 256) {
    x0 = fold512(x0, _mm512_loadu_si512((const void *)p), k256);
    x1 = fold512(x1, _mm512_loadu_si512((const void *)(p + 64)), k256);
    x2 = fold512(x2, _mm512_loadu_si512((const void *)(p + 128)), k256);
    x3 = fold512(x3, _mm512_loadu_si512((const void *)(p + 192)), k256);
    p += 256;
    n -= 256;
  }
  __m512i k64 = _mm512_broadcast_i32x4(_mm_set_epi64x((long long)kf_64[1], (long long)kf_64[0]));
  x0 = fold512(x0, x1, k64);
  x0 = fold512(x0, x2, k64);
  x0 = fold512(x0, x3, k64);
  while (n >= 64) {
    x0 = fold512(x0, _mm512_loadu_si512((const void *)p), k64);
    p += 64;
    n -= 64;
  }
  __m128i k16 = _mm_set_epi64x((long long)kf_16[1], (long long)kf_16[0]);
  __m128i v = _mm512_extracti32x4_epi32(x0, 0);
  v = fold128(v, _mm512_extracti32x4_epi32(x0, 1), k16);
  v = fold128(v, _mm512_extracti32x4_epi32(x0, 2), k16);
  v = fold128(v, _mm512_extracti32x4_epi32(x0, 3), k16);
  uint64_t c = _mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(v));
  c = _mm_crc32_u64(c, (uint64_t)_mm_extract_epi64(v, 1));
  return crc_3way((uint32_t)c, p, n);
}

static void init_x86(void) {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("sse4.2") || !__builtin_cpu_supports("pclmul")) return;
  k_big = xpow_mod(8ull * L_BIG - 33);
  k_mid = xpow_mod(8ull * L_MID - 33);
  k_small = xpow_mod(8ull * L_SMALL - 33);
  add_engine(crc_3way, "3way");
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("vpclmulqdq")) {
    /* Fold distances in bits: 2048 (4 x 512-bit), 512, 128. */
    kf_256[0] = fold_const(2048 + 32);
    kf_256[1] = fold_const(2048 - 32);
    kf_64[0] = fold_const(512 + 32);
    kf_64[1] = fold_const(512 - 32);
    kf_16[0] = fold_const(128 + 32);
    kf_16[1] = fold_const(128 - 32);
    add_engine(crc_fold, "avx512-fold");
  }
}
#else
static void init_x86(void) {}
#endif

/* ---------------------------------------------------------------- N-API glue */

static napi_status get_bytes(napi_env env, napi_value v, const uint8_t **data, size_t *len) {
  bool is;
  napi_status s = napi_is_typedarray(env, v, &is);
  if (s != napi_ok) return s;
  if (is) {
    napi_typedarray_type type;
    size_t count;
    void *ptr;
    s = napi_get_typedarray_info(env, v, &type, &count, &ptr, NULL, NULL);
    if (s != napi_ok) return s;
    size_t width = 1;
    switch (type) {
      case napi_int16_array: case napi_uint16_array: width = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: width = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: width = 8; break;
      default: width = 1;
    }
    *data = (const uint8_t *)ptr;
    *len = count * width;
    return napi_ok;
  }
  s = napi_is_dataview(env, v, &is);
  if (s != napi_ok) return s;
  if (is) {
    void *ptr;
    s = napi_get_dataview_info(env, v, len, &ptr, NULL, NULL);
    *data = (const uint8_t *)ptr;
    return s;
  }
  return napi_invalid_arg;
}

static uint32_t get_initial(napi_env env, size_t argc, napi_value *argv) {
  uint32_t init = 0;
  if (argc >= 2) {
    napi_valuetype t;
    if (napi_typeof(env, argv[1], &t) == napi_ok && t == napi_number) napi_get_value_uint32(env, argv[1], &init);
  }
  return init;
}

static napi_value make_u32(napi_env env, uint32_t v) {
  napi_value out;
  napi_create_uint32(env, v, &out);
  return out;
}

static napi_value js_crc32c(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  const uint8_t *data = NULL;
  size_t len = 0;
  if (argc < 1 || get_bytes(env, argv[0], &data, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "crc32c: expected a Buffer or TypedArray");
    return NULL;
  }
  uint32_t crc = ~get_initial(env, argc, argv);
  if (len > 0) crc = engine(crc, data, len);
  return make_u32(env, ~crc);
}

static napi_value js_crc32cv(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool is_array = false;
  if (argc >= 1) napi_is_array(env, argv[0], &is_array);
  if (!is_array) {
    napi_throw_type_error(env, NULL, "crc32cv: expected an array of Buffers");
    return NULL;
  }
  uint32_t count = 0;
  napi_get_array_length(env, argv[0], &count);
  uint32_t crc = ~get_initial(env, argc, argv);
  for (uint32_t i = 0; i < count; i++) {
    napi_value el;
    const uint8_t *data = NULL;
    size_t len = 0;
    if (napi_get_element(env, argv[0], i, &el) != napi_ok || get_bytes(env, el, &data, &len) != napi_ok) {
      napi_throw_type_error(env, NULL, "crc32cv: every element must be a Buffer or TypedArray");
      return NULL;
    }
    if (len > 0) crc = engine(crc, data, len);
  }
  return make_u32(env, ~crc);
}

/* withEngine(name, buffer, initial): crc32c with a named engine, for tests; throws if absent. */
static napi_value js_with_engine(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char name[32];
  size_t n = 0;
  if (argc < 2 || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &n) != napi_ok) {
    napi_throw_type_error(env, NULL, "withEngine: expected (name, buffer, initial?)");
    return NULL;
  }
  crc_fn fn = NULL;
  for (int i = 0; i < engine_count; i++)
    if (strcmp(name, engine_names[i]) == 0) fn = engines[i];
  if (fn == NULL) {
    napi_throw_error(env, NULL, "withEngine: engine not available on this CPU");
    return NULL;
  }
  const uint8_t *data = NULL;
  size_t len = 0;
  if (get_bytes(env, argv[1], &data, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "withEngine: expected a Buffer or TypedArray");
    return NULL;
  }
  uint32_t crc = ~get_initial(env, argc - 1, argv + 1);
  if (len > 0) crc = fn(crc, data, len);
  return make_u32(env, ~crc);
}

NAPI_MODULE_INIT() {
  init_tables();
  init_x86();
  napi_property_descriptor props[5];
  memset(props, 0, sizeof props);
  props[0].utf8name = "crc32c";
  props[0].method = js_crc32c;
  props[0].attributes = napi_enumerable;
  props[1].utf8name = "crc32cv";
  props[1].method = js_crc32cv;
  props[1].attributes = napi_enumerable;
  napi_value name;
  napi_create_string_utf8(env, engine_name, NAPI_AUTO_LENGTH, &name);
  props[2].utf8name = "engine";
  props[2].value = name;
  props[2].attributes = napi_enumerable;
  props[3].utf8name = "withEngine";
  props[3].method = js_with_engine;
  props[3].attributes = napi_enumerable;
  napi_value list;
  napi_create_array_with_length(env, (size_t)engine_count, &list);
  for (int i = 0; i < engine_count; i++) {
    napi_value s;
    napi_create_string_utf8(env, engine_names[i], NAPI_AUTO_LENGTH, &s);
    napi_set_element(env, list, (uint32_t)i, s);
  }
  props[4].utf8name = "engines";
  props[4].value = list;
  props[4].attributes = napi_enumerable;
  napi_define_properties(env, exports, 5, props);
  return exports;
}
