/* shared between the C, C++ and CUDA sources */
#ifndef SCALE_H
#define SCALE_H
#define SCALE_FACTOR 3.0f
#ifdef __cplusplus
extern "C" {
#endif
/* 0 on success; -1 when no CUDA device (the caller falls back to the CPU) */
int scale_on_gpu(float *data, int n, float factor);
const char *cuda_build_info(void);
int scale_on_cpu(float *data, int n, float factor);
#ifdef __cplusplus
}
#endif
#endif
