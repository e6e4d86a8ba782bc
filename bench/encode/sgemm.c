/* The machine's sgemm throughput through the same OpenBLAS splade links: C[m×n] = A[m×k]·B[k×n]ᵀ,
   the shapes of BERT-base's linear layers over 4096 tokens. Prints GFLOP/s. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    openblas_set_num_threads(threads);
    const int m = 4096, shapes[3][2] = {{2304, 768}, {3072, 768}, {768, 3072}};
    double flops = 0, seconds = 0;
    for (int s = 0; s < 3; s++) {
        int n = shapes[s][0], k = shapes[s][1];
        float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * n * k), *c = malloc(sizeof(float) * m * n);
        for (long i = 0; i < (long)m * k; i++) a[i] = (float)(i % 13) * 0.01f;
        for (long i = 0; i < (long)n * k; i++) b[i] = (float)(i % 7) * 0.01f;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1, a, k, b, k, 0, c, n); /* warm-up */
        double start = now();
        for (int r = 0; r < 3; r++) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1, a, k, b, k, 0, c, n);
        seconds += now() - start;
        flops += 3.0 * 2.0 * m * n * k;
        free(a); free(b); free(c);
    }
    printf("%.1f\n", flops / seconds / 1e9);
    return 0;
}
