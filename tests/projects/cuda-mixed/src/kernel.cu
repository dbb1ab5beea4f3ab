#include <stdio.h>
#include <cuda_runtime.h>
#include "scale.h"

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
    cudaError_t err = cudaMemcpy(data, dev, bytes, cudaMemcpyDeviceToHost);
    cudaFree(dev);
    return err == cudaSuccess ? 0 : -2;
}

extern "C" const char *cuda_build_info(void) {
    static char text[64];
    snprintf(text, sizeof text, "cudart %d", CUDART_VERSION);
    return text;
}
