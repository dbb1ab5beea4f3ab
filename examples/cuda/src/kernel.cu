#include <stdio.h>
#include <cuda_runtime.h>
#include "scale.h"
#if defined(__has_include)
#if __has_include("varwheel_variant.h")
#include "varwheel_variant.h" /* a variant build: its label, CUDA version and architectures */
#endif
#endif
#ifndef VARWHEEL_VARIANT_LABEL
#define VARWHEEL_VARIANT_LABEL "none"
#endif
#ifndef VARWHEEL_CUDA_SM_ARCHS
#define VARWHEEL_CUDA_SM_ARCHS "nvcc's default"
#endif

__global__ void scale_kernel(float *data, int n, float factor) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) data[i] *= factor;
}

extern "C" int scale_on_gpu(float *data, int n, float factor) {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) return -1;
    float *dev = nullptr;
    size_t bytes = sizeof(float) * (size_t)n;
    if (cudaMalloc(&dev, bytes) != cudaSuccess) return -1;
    cudaMemcpy(dev, data, bytes, cudaMemcpyHostToDevice);
    scale_kernel<<<(n + 255) / 256, 256>>>(dev, n, factor);
    /* no code for this GPU in the wheel (another variant's architecture): the CPU takes over */
    cudaError_t err = cudaGetLastError();
    if (err == cudaSuccess) err = cudaMemcpy(data, dev, bytes, cudaMemcpyDeviceToHost);
    cudaFree(dev);
    return err == cudaSuccess ? 0 : -2;
}

extern "C" const char *cuda_build_info(void) {
    static char text[160];
    snprintf(text, sizeof text, "variant %s, cudart %d, sm_arch %s", VARWHEEL_VARIANT_LABEL, CUDART_VERSION,
             VARWHEEL_CUDA_SM_ARCHS);
    return text;
}
