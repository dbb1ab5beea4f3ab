#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <immintrin.h>

/* Adds two arrays of 16 ints with the widest vectors the -march of the build allows. */
void levels_add16(int *out, const int *a, const int *b) {
#if defined(__AVX512F__)
    _mm512_storeu_si512(out, _mm512_add_epi32(_mm512_loadu_si512(a), _mm512_loadu_si512(b)));
#elif defined(__AVX2__)
    for (int i = 0; i < 16; i += 8) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(a + i));
        __m256i y = _mm256_loadu_si256((const __m256i *)(b + i));
        _mm256_storeu_si256((__m256i *)(out + i), _mm256_add_epi32(x, y));
    }
#else
    for (int i = 0; i < 16; i++) out[i] = a[i] + b[i];
#endif
}

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_wide", NULL, -1, NULL};
PyMODINIT_FUNC PyInit__wide(void) { return PyModule_Create(&module); }
