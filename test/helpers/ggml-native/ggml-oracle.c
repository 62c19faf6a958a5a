/*
 * A tiny command-line bridge to the ggml libraries that ship with node-llama-cpp (the llama.cpp build the
 * conformance tests compare against), so tests can check our reference code bit for bit against the
 * compiled ggml itself. Only public ggml entry points are used, declared here by hand (no ggml headers):
 *
 *   ggml-oracle <bins-dir> variant                  → name of the CPU library ggml would load on this machine
 *   ggml-oracle <bins-dir> vec_dot_type <type>      → ggml-cpu's vec_dot_type for <type> (a ggml type id)
 *   ggml-oracle <bins-dir> to_float <type> <n>      stdin: bytes of n values → stdout: n f32 (dequantize_row_*)
 *   ggml-oracle <bins-dir> quantize <type> <rows> <cols>   stdin: f32 → stdout: bytes (ggml_quantize_chunk, no imatrix)
 *   ggml-oracle <bins-dir> from_float <type> <n>    stdin: n f32 → stdout: bytes (ggml-cpu's from_float: the
 *                                                   activation conversion the CPU backend runs before a matmul)
 *   ggml-oracle <bins-dir> quantize_mat <q8_0|q8_K> <k>   stdin: 4 rows of k f32 → stdout: block_q8_0x4 /
 *                                                   block_q8_Kx4 bytes (ggml_quantize_mat_*_4x8: the activation
 *                                                   quantizer of the repacked Q4_0/IQ4_NL/MXFP4 and Q4_K/Q2_K paths)
 *
 * The CPU library is chosen as ggml's loader chooses it: the libggml-cpu-*.so with the highest
 * ggml_backend_score() on this machine.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*to_float_t)(const void *x, float *y, int64_t k);
typedef void (*from_float_t)(const float *x, void *y, int64_t k);

struct type_traits { /* ggml.h struct ggml_type_traits */
  const char *type_name;
  int64_t blck_size;
  int64_t blck_size_interleave;
  size_t type_size;
  bool is_quantized;
  to_float_t to_float;
  from_float_t from_float_ref;
};

struct type_traits_cpu { /* ggml-cpu.h struct ggml_type_traits_cpu */
  from_float_t from_float;
  void *vec_dot;
  int vec_dot_type;
  int64_t nrows;
};

static void *must(void *p, const char *what) {
  if (!p) {
    fprintf(stderr, "ggml-oracle: %s: %s\n", what, dlerror());
    exit(3);
  }
  return p;
}

static void *base_lib(const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/libggml-base.so", dir);
  return must(dlopen(path, RTLD_NOW | RTLD_GLOBAL), path);
}

/* The CPU variant ggml's backend loader would pick: highest ggml_backend_score(). */
static void *cpu_lib(const char *dir, char *name_out, size_t name_cap) {
  DIR *d = opendir(dir);
  if (!d) {
    fprintf(stderr, "ggml-oracle: cannot open %s\n", dir);
    exit(3);
  }
  void *best = NULL;
  int best_score = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (strncmp(e->d_name, "libggml-cpu", 11) != 0 || !strstr(e->d_name, ".so")) continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) continue;
    int (*score)(void) = (int (*)(void))dlsym(h, "ggml_backend_score");
    int s = score ? score() : 0;
    if (s > best_score) {
      best = h;
      best_score = s;
      snprintf(name_out, name_cap, "%s", e->d_name);
    }
  }
  closedir(d);
  if (!best) {
    fprintf(stderr, "ggml-oracle: no usable libggml-cpu*.so in %s\n", dir);
    exit(3);
  }
  void (*init)(void) = (void (*)(void))must(dlsym(best, "ggml_cpu_init"), "ggml_cpu_init");
  init();
  return best;
}

static void *read_all(size_t n) {
  void *buf = calloc(n ? n : 1, 1);
  if (fread(buf, 1, n, stdin) != n) {
    fprintf(stderr, "ggml-oracle: expected %zu bytes on stdin\n", n);
    exit(2);
  }
  return buf;
}

static void write_all(const void *p, size_t n) {
  if (fwrite(p, 1, n, stdout) != n) exit(4);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: ggml-oracle <bins-dir> <command> [args]\n");
    return 2;
  }
  const char *dir = argv[1];
  const char *cmd = argv[2];
  void *base = base_lib(dir);
  const struct type_traits *(*traits)(int) = (const struct type_traits *(*)(int))must(dlsym(base, "ggml_get_type_traits"), "ggml_get_type_traits");
  char cpu_name[256] = "";

  if (!strcmp(cmd, "variant")) {
    cpu_lib(dir, cpu_name, sizeof cpu_name);
    printf("%s\n", cpu_name);
    return 0;
  }
  if (!strcmp(cmd, "vec_dot_type") && argc == 4) {
    void *cpu = cpu_lib(dir, cpu_name, sizeof cpu_name);
    const struct type_traits_cpu *(*ct)(int) = (const struct type_traits_cpu *(*)(int))must(dlsym(cpu, "ggml_get_type_traits_cpu"), "ggml_get_type_traits_cpu");
    printf("%d\n", ct(atoi(argv[3]))->vec_dot_type);
    return 0;
  }
  if (!strcmp(cmd, "to_float") && argc == 5) {
    int type = atoi(argv[3]);
    int64_t n = atoll(argv[4]);
    const struct type_traits *t = traits(type);
    size_t bytes = (size_t)(n / t->blck_size) * t->type_size;
    void *src = read_all(bytes);
    float *dst = calloc((size_t)n, sizeof(float));
    if (!t->to_float) {
      fprintf(stderr, "ggml-oracle: type %d has no to_float\n", type);
      return 2;
    }
    t->to_float(src, dst, n);
    write_all(dst, (size_t)n * sizeof(float));
    return 0;
  }
  if (!strcmp(cmd, "quantize") && argc == 6) {
    int type = atoi(argv[3]);
    int64_t rows = atoll(argv[4]), cols = atoll(argv[5]);
    size_t (*chunk)(int, const float *, void *, int64_t, int64_t, int64_t, const float *) =
        (size_t (*)(int, const float *, void *, int64_t, int64_t, int64_t, const float *))must(dlsym(base, "ggml_quantize_chunk"), "ggml_quantize_chunk");
    const struct type_traits *t = traits(type);
    float *src = read_all((size_t)(rows * cols) * sizeof(float));
    size_t bytes = (size_t)(rows * cols / t->blck_size) * t->type_size;
    void *dst = calloc(bytes, 1);
    size_t wrote = chunk(type, src, dst, 0, rows, cols, NULL);
    write_all(dst, wrote);
    return 0;
  }
  if (!strcmp(cmd, "from_float") && argc == 5) {
    int type = atoi(argv[3]);
    int64_t n = atoll(argv[4]);
    void *cpu = cpu_lib(dir, cpu_name, sizeof cpu_name);
    const struct type_traits_cpu *(*ct)(int) = (const struct type_traits_cpu *(*)(int))must(dlsym(cpu, "ggml_get_type_traits_cpu"), "ggml_get_type_traits_cpu");
    const struct type_traits *t = traits(type);
    float *src = read_all((size_t)n * sizeof(float));
    size_t bytes = (size_t)(n / t->blck_size) * t->type_size;
    void *dst = calloc(bytes, 1);
    if (!ct(type)->from_float) {
      fprintf(stderr, "ggml-oracle: type %d has no from_float\n", type);
      return 2;
    }
    ct(type)->from_float(src, dst, n);
    write_all(dst, bytes);
    return 0;
  }
  if (!strcmp(cmd, "quantize_mat") && argc == 5) {
    bool k_quant = !strcmp(argv[3], "q8_K");
    int64_t k = atoll(argv[4]);
    void *cpu = cpu_lib(dir, cpu_name, sizeof cpu_name);
    from_float_t mat = (from_float_t)must(dlsym(cpu, k_quant ? "ggml_quantize_mat_q8_K_4x8" : "ggml_quantize_mat_q8_0_4x8"), "ggml_quantize_mat_*_4x8");
    float *src = read_all((size_t)(4 * k) * sizeof(float));
    /* block_q8_Kx4: float d[4], int8 qs[4·256], int16 bsums[64]; block_q8_0x4: half d[4], int8 qs[4·32] */
    size_t bytes = k_quant ? (size_t)(k / 256) * (4 * 4 + 4 * 256 + 64 * 2) : (size_t)(k / 32) * (4 * 2 + 4 * 32);
    void *dst = calloc(bytes, 1);
    mat(src, dst, k);
    write_all(dst, bytes);
    return 0;
  }
  fprintf(stderr, "ggml-oracle: unknown command or wrong arguments: %s\n", cmd);
  return 2;
}
